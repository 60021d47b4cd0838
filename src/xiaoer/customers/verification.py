"""A shopper proves who they are before the chat shows or stores anything of a customer.

Three proofs (docs/subsystems/chat-protocol.md):
- a signed identity token from the merchant's own site or app:
  `<external_id>.<expires_unix>.<hex HMAC-SHA256(shop secret, "<external_id>.<expires_unix>")>`;
- a one-time code sent to the customer's phone or e-mail (stored only as a keyed hash);
- an order number together with the last four digits of the recipient's phone.

Visitor tokens are signed with the installation's secret key, so a new browser gets one without
a database row: the row (and its anonymous customer record) is written when the visitor first
says something or verifies. Until then, and until verified, nothing of any customer is read
for or written by the visitor. A verified session names the customer on the visitor row until
`verified_until`; the visitor's own record never changes owner.

Failures are answered with one code (`verification_failed`) whatever went wrong, so guessing
learns nothing; the caller audits them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.commerce.models import Order
from xiaoer.customers.models import (
    ChatIdentitySecret,
    Customer,
    VerificationCode,
    VisitorIdentity,
)
from xiaoer.customers.service import VISITOR_NAME_PREFIX, normalize_phone
from xiaoer.errors import InvalidInput

_RANDOM_CHARS = 24
_SIG_CHARS = 20
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
CODE_DIGITS = 6
# How long a merchant's identity token may live at most: a leaked one must not work for months.
MAX_TOKEN_LIFETIME = dt.timedelta(days=1)


# ---- normalising what shoppers type -----------------------------------------------------------


def fold(text: str) -> str:
    """Full-width digits and letters to ASCII (NFKC), surrounding blanks dropped."""
    return unicodedata.normalize("NFKC", text).strip()


def normalize_order_no(raw: str) -> str:
    return re.sub(r"[\s-]", "", fold(raw)).upper()


def normalize_email(raw: str) -> str:
    email = fold(raw).lower()
    if not _EMAIL.match(email):
        raise InvalidInput("give an e-mail address", code="invalid_email")
    return email


def normalize_target(channel: str, raw: str) -> str:
    return normalize_email(raw) if channel == "email" else normalize_phone(fold(raw))


def mask_target(channel: str, target: str) -> str:
    if channel == "email":
        local, _, domain = target.partition("@")
        return f"{local[:1]}***@{domain}"
    return target[:3] + "****" + target[-4:] if len(target) >= 8 else "****"


# ---- visitor tokens ---------------------------------------------------------------------------


def _token_sig(secret_key: str, random_part: str) -> str:
    digest = hmac.new(secret_key.encode(), f"visitor:{random_part}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:_SIG_CHARS]


def new_visitor_token(secret_key: str) -> str:
    random_part = secrets.token_urlsafe(18)[:_RANDOM_CHARS]
    return random_part + _token_sig(secret_key, random_part)


def token_is_ours(token: str, secret_key: str) -> bool:
    """A token this installation issued (stored or not yet stored)."""
    if len(token) != _RANDOM_CHARS + _SIG_CHARS or not _TOKEN_CHARS.match(token):
        return False
    return hmac.compare_digest(token[_RANDOM_CHARS:], _token_sig(secret_key, token[:_RANDOM_CHARS]))


async def find_visitor(
    session: AsyncSession, *, shop_id: int, token: str
) -> VisitorIdentity | None:
    if not _TOKEN_CHARS.match(token):
        return None
    return await session.scalar(
        select(VisitorIdentity).where(
            VisitorIdentity.shop_id == shop_id, VisitorIdentity.token == token
        )
    )


async def ensure_visitor(session: AsyncSession, *, shop_id: int, token: str) -> VisitorIdentity:
    """The visitor row with its own anonymous customer record, written on first need. Two
    sockets racing to create it collide on (shop_id, token); the caller's retry finds it."""
    visitor = await find_visitor(session, shop_id=shop_id, token=token)
    if visitor is not None:
        return visitor
    customer = Customer(shop_id=shop_id, name=f"{VISITOR_NAME_PREFIX}{token[:4]}", tags=[])
    session.add(customer)
    await session.flush()
    visitor = VisitorIdentity(shop_id=shop_id, token=token, customer_id=customer.id)
    session.add(visitor)
    await session.flush()
    return visitor


async def own_record_is_anonymous(session: AsyncSession, visitor: VisitorIdentity) -> bool:
    """False for visitor rows that an earlier version linked to a real customer on a bare
    claim: those browsers must not see that customer's conversations either."""
    customer = await session.get(Customer, visitor.customer_id)
    if customer is None:
        return False
    if customer.phone or customer.email or customer.external_id:
        return False
    has_order = await session.scalar(select(exists().where(Order.customer_id == customer.id)))
    return not has_order


def verified_customer_id(visitor: VisitorIdentity, now: dt.datetime | None = None) -> int | None:
    if visitor.verified_customer_id is None or visitor.verified_until is None:
        return None
    return visitor.verified_customer_id if visitor.verified_until > (now or clock.now()) else None


# ---- the merchant's identity token ------------------------------------------------------------


async def identity_secret(session: AsyncSession, *, shop_id: int) -> ChatIdentitySecret:
    row = await session.scalar(
        select(ChatIdentitySecret).where(ChatIdentitySecret.shop_id == shop_id)
    )
    if row is None:
        row = ChatIdentitySecret(shop_id=shop_id, secret=secrets.token_urlsafe(32))
        session.add(row)
        await session.flush()
    return row


async def rotate_identity_secret(session: AsyncSession, *, shop_id: int) -> ChatIdentitySecret:
    row = await identity_secret(session, shop_id=shop_id)
    row.secret = secrets.token_urlsafe(32)
    row.rotated_at = clock.now()
    await session.flush()
    return row


def sign_identity(secret: str, external_id: str, expires: int) -> str:
    """What the merchant's server computes (any language); here for tests and docs."""
    payload = f"{external_id}.{expires}"
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{sig}"


def check_identity_token(secret: str, token: str, now: dt.datetime) -> str | None:
    """The external id the token vouches for, or None (forged, expired, malformed)."""
    parts = token.strip().rsplit(".", 2)
    if len(parts) != 3:
        return None
    external_id, expires_raw, sig = parts
    if not external_id or len(external_id) > 100 or not expires_raw.isdigit():
        return None
    expected = hmac.new(
        secret.encode(), f"{external_id}.{expires_raw}".encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(sig.lower(), expected):
        return None
    expires = dt.datetime.fromtimestamp(int(expires_raw[:12]), dt.UTC)
    if not now < expires <= now + MAX_TOKEN_LIFETIME:
        return None
    return external_id


async def customer_for_external_id(
    session: AsyncSession, *, shop_id: int, external_id: str
) -> Customer:
    """The merchant vouches for this shopper: their record, created on first sight."""
    customer = await session.scalar(
        select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == external_id)
    )
    if customer is None:
        customer = Customer(
            shop_id=shop_id, name=f"会员{external_id[-4:]}", tags=[], external_id=external_id
        )
        session.add(customer)
        await session.flush()
    return customer


# ---- order number + last four digits of the recipient's phone ---------------------------------


async def check_order_claim(
    session: AsyncSession, *, shop_id: int, order_no: str, phone_last4: str
) -> tuple[Customer, Order] | None:
    last4 = fold(phone_last4)
    if not re.fullmatch(r"\d{4}", last4):
        return None
    order = await session.scalar(
        select(Order).where(
            Order.shop_id == shop_id, Order.order_no == normalize_order_no(order_no)
        )
    )
    if order is None:
        return None
    customer = await session.get(Customer, order.customer_id)
    if customer is None or not customer.phone or len(customer.phone) < 4:
        return None
    if not hmac.compare_digest(customer.phone[-4:], last4):
        return None
    return customer, order


# ---- one-time codes ---------------------------------------------------------------------------


def _code_hash(secret_key: str, shop_id: int, visitor_token: str, code: str) -> str:
    message = f"code:{shop_id}:{visitor_token}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


async def customer_for_target(
    session: AsyncSession, *, shop_id: int, channel: str, target: str
) -> Customer | None:
    column = Customer.email if channel == "email" else Customer.phone
    return await session.scalar(
        select(Customer).where(Customer.shop_id == shop_id, column == target).limit(1)
    )


@dataclass(frozen=True)
class IssuedCode:
    code: str
    row: VerificationCode


async def issue_code(
    session: AsyncSession,
    *,
    shop_id: int,
    visitor_token: str,
    channel: str,
    target: str,
    secret_key: str,
    ttl: dt.timedelta,
) -> IssuedCode | None:
    """A fresh code for the customer owning `target`; None (and nothing stored or sent) when
    no customer does, which the caller answers exactly like a sent code. Earlier unused codes
    of the visitor stop working."""
    customer = await customer_for_target(session, shop_id=shop_id, channel=channel, target=target)
    if customer is None:
        return None
    now = clock.now()
    for old in await session.scalars(
        select(VerificationCode).where(
            VerificationCode.shop_id == shop_id,
            VerificationCode.visitor_token == visitor_token,
            VerificationCode.used_at.is_(None),
        )
    ):
        old.used_at = now
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = VerificationCode(
        shop_id=shop_id,
        visitor_token=visitor_token,
        channel=channel,
        target=target,
        customer_id=customer.id,
        code_hash=_code_hash(secret_key, shop_id, visitor_token, code),
        expires_at=now + ttl,
        attempts=0,
    )
    session.add(row)
    await session.flush()
    return IssuedCode(code, row)


async def check_code(
    session: AsyncSession,
    *,
    shop_id: int,
    visitor_token: str,
    code: str,
    secret_key: str,
    max_attempts: int,
) -> VerificationCode | None:
    """The code row when `code` is the visitor's current code; each try counts, and a code
    is spent after `max_attempts` wrong ones or one right one."""
    now = clock.now()
    row = await session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.shop_id == shop_id,
            VerificationCode.visitor_token == visitor_token,
            VerificationCode.used_at.is_(None),
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )
    if row is None or row.expires_at <= now:
        return None
    row.attempts += 1
    given = fold(code)
    expected = row.code_hash
    if re.fullmatch(rf"\d{{{CODE_DIGITS}}}", given) and hmac.compare_digest(
        _code_hash(secret_key, shop_id, visitor_token, given), expected
    ):
        row.used_at = now
        await session.flush()
        return row
    if row.attempts >= max_attempts:
        row.used_at = now
    await session.flush()
    return None


# ---- the verified session ---------------------------------------------------------------------


async def start_session(
    session: AsyncSession,
    *,
    visitor: VisitorIdentity,
    customer_id: int,
    method: str,
    lifetime: dt.timedelta,
) -> dt.datetime:
    until = clock.now() + lifetime
    visitor.verified_customer_id = customer_id
    visitor.verified_until = until
    visitor.verified_method = method
    await session.flush()
    return until
