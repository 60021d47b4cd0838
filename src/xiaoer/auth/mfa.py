"""Second factor: TOTP (RFC 6238, pyotp) with one-time recovery codes, and the shop's rule that
admins and supervisors must use it. Every change and every use is audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import RecoveryCode, Role, SessionStage, User
from xiaoer.errors import Forbidden, InvalidInput
from xiaoer.shops import service as shops

ISSUER = "Xiaoer"
RECOVERY_CODES = 10
# Unambiguous characters: no 0/O or 1/I/L to misread from paper.
_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ROLES_THE_SHOP_MAY_REQUIRE = (Role.admin, Role.supervisor)


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, *, username: str, shop_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=f"{ISSUER} {shop_name}")


def grouped(secret: str) -> str:
    """The manual-entry key in groups of four, easier to type from the screen."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _clean(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step whose code `code` is (this step or one either side, for clock drift)."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = totp.timecode(dt.datetime.fromtimestamp(now, dt.UTC))
    for offset in (0, -1, 1):
        if secrets.compare_digest(totp.generate_otp(step + offset), code):
            return step + offset
    return None


def _hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


async def mfa_required_for_shop(session: AsyncSession, *, shop_id: int) -> bool:
    security = await shops.settings_section(session, shop_id=shop_id, section="security")
    return bool((security or {}).get("mfa_required"))


async def mfa_required_for(session: AsyncSession, user: User) -> bool:
    if user.role not in ROLES_THE_SHOP_MAY_REQUIRE:
        return False
    return await mfa_required_for_shop(session, shop_id=user.shop_id)


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.mfa_enabled_at is not None


async def _new_recovery_codes(session: AsyncSession, *, user: User) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)
    ]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(c)) for c in codes)
    await session.flush()
    return [f"{c[:5]}-{c[5:]}" for c in codes]


async def enable_mfa(
    session: AsyncSession, *, user: User, secret: str, code: str, actor: Actor
) -> list[str]:
    """Turns TOTP on once `code` proves the authenticator holds `secret`; returns the recovery
    codes, shown to the user once and stored only as hashes."""
    step = matching_step(secret, code)
    if step is None:
        raise InvalidInput(
            "the code does not match; check the time on your phone", code="mfa_code_wrong"
        )
    user.totp_secret = secret
    user.totp_last_step = step
    user.mfa_enabled_at = clock.now()
    codes = await _new_recovery_codes(session, user=user)
    await audit.record(
        session,
        actor=actor,
        action="auth.mfa_enabled",
        entity_type="user",
        entity_id=user.id,
        after={"method": "totp", "recovery_codes": len(codes)},
    )
    return codes


async def regenerate_recovery_codes(
    session: AsyncSession, *, user: User, actor: Actor
) -> list[str]:
    if not is_enrolled(user):
        raise InvalidInput("two-step login is not on", code="mfa_not_enrolled")
    codes = await _new_recovery_codes(session, user=user)
    await audit.record(
        session,
        actor=actor,
        action="auth.mfa_recovery_codes_renewed",
        entity_type="user",
        entity_id=user.id,
    )
    return codes


async def disable_mfa(session: AsyncSession, *, user: User, actor: Actor, by_admin: bool) -> None:
    """Turns TOTP off. A user may not turn it off while the shop requires it of their role; an
    admin may reset it (a lost phone), after which the user enrols again at the next login."""
    if not by_admin and await mfa_required_for(session, user):
        raise Forbidden("the shop requires two-step login for your role", code="mfa_required")
    if by_admin and actor.id == user.id:
        # An admin's own factor is turned off on the account page, under the shop's rule.
        raise Forbidden("reset another user's two-step login, not your own", code="mfa_self_reset")
    user.totp_secret = None
    user.totp_last_step = None
    user.mfa_enabled_at = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await audit.record(
        session,
        actor=actor,
        action="auth.mfa_reset" if by_admin else "auth.mfa_disabled",
        entity_type="user",
        entity_id=user.id,
        shop_id=user.shop_id,
    )


async def verify_second_factor(
    session: AsyncSession, *, user: User, code: str, actor: Actor
) -> bool:
    """A TOTP code (each accepted once) or an unused recovery code (used up). Audited."""
    ok, method = False, "totp"
    if user.totp_secret:
        step = matching_step(user.totp_secret, code)
        if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            ok = True
    if not ok and len(_clean(code)) == 10:
        method = "recovery_code"
        row = await session.scalar(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash(code),
                RecoveryCode.used_at.is_(None),
            )
        )
        if row is not None:
            row.used_at = clock.now()
            ok = True
    await audit.record(
        session,
        actor=actor,
        action="auth.mfa_verified" if ok else "auth.mfa_failed",
        entity_type="user",
        entity_id=user.id,
        shop_id=user.shop_id,
        after={"method": method} if ok else None,
    )
    return ok


async def unused_recovery_codes(session: AsyncSession, *, user: User) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))


async def set_shop_mfa_requirement(
    session: AsyncSession, *, shop_id: int, required: bool, actor: Actor
) -> None:
    if await shops.get_shop(session, shop_id=shop_id) is None:
        raise InvalidInput("no such shop")
    before = await mfa_required_for_shop(session, shop_id=shop_id)
    section = await shops.settings_section(session, shop_id=shop_id, section="security")
    security = dict(section or {})
    security["mfa_required"] = required
    await shops.set_settings_section(session, shop_id=shop_id, section="security", value=security)
    await audit.record(
        session,
        actor=actor,
        action="shop.mfa_requirement_changed",
        entity_type="shop",
        entity_id=shop_id,
        before={"mfa_required": before},
        after={"mfa_required": required},
    )


async def login_stage(session: AsyncSession, user: User) -> SessionStage:
    """Where a login with the right password stands: enrolled users give their second factor;
    admins and supervisors of a shop that requires MFA enrol first; everyone else is in."""
    if is_enrolled(user):
        return SessionStage.mfa
    if await mfa_required_for(session, user):
        return SessionStage.enrol
    return SessionStage.active
