"""Staff accounts: create, authenticate, deactivate, reset or change a password, change role."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth import sessions
from xiaoer.auth.models import Role, User
from xiaoer.auth.password_policy import MESSAGES, password_problem
from xiaoer.auth.passwords import dummy_hash, hash_password, verify_password
from xiaoer.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


def actor_for(user: User, ip: str = "") -> Actor:
    return Actor(type="user", id=user.id, name=user.username, shop_id=user.shop_id, ip=ip)


def check_password(password: str, *, username: str = "") -> None:
    """Raises InvalidInput with the broken rule's code (`password_too_short`, …)."""
    problem = password_problem(password, username=username)
    if problem:
        raise InvalidInput(MESSAGES[problem], code=problem)


def _public(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": str(user.role),
        "is_active": user.is_active,
    }


async def create_user(
    session: AsyncSession,
    *,
    shop_id: int,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    actor: Actor,
) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("username is required")
    check_password(password, username=username)
    # Usernames are unique per installation: the refusal neither repeats the name nor says
    # which shop has it, so one shop's admin learns nothing about another shop's staff.
    if await session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict("this username cannot be used; choose another", code="username_unavailable")
    user = User(
        shop_id=shop_id,
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after=_public(user),
        shop_id=shop_id,
    )
    return user


def password_matches(user: User | None, password: str) -> bool:
    """Checks `password`; for a missing user against a dummy hash, so it costs the same time."""
    return verify_password(user.password_hash if user else dummy_hash(), password) and bool(user)


async def authenticate(session: AsyncSession, *, username: str, password: str, ip: str) -> User:
    """Checks a login; both outcomes land in the audit log. A password is verified against a
    hash whether or not the user exists, so both answers take the same time."""
    user = await session.scalar(select(User).where(User.username == username))
    password_ok = password_matches(user, password)
    if user is None or not user.is_active or not password_ok:
        await audit.record(
            session,
            actor=Actor(type="anonymous", name=username[:100], ip=ip),
            action="auth.login_failed",
            entity_type="user",
            entity_id=user.id if user else "",
            shop_id=user.shop_id if user else None,
        )
        raise Unauthorized("wrong username or password")
    user.last_login_at = clock.now()
    await audit.record(
        session,
        actor=actor_for(user, ip),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
    )
    return user


async def access_user(session: AsyncSession, viewer: User, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.shop_id != viewer.shop_id:
        raise NotFound("user not found")
    return user


async def list_users(session: AsyncSession, *, shop_id: int) -> list[User]:
    return list(
        await session.scalars(select(User).where(User.shop_id == shop_id).order_by(User.id))
    )


async def update_user(
    session: AsyncSession,
    *,
    user: User,
    actor: Actor,
    role: Role | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
    password: str | None = None,
) -> User:
    if actor.id == user.id and (is_active is False or (role and role != user.role)):
        raise Forbidden("you cannot deactivate yourself or change your own role")
    before = _public(user)
    if role is not None:
        user.role = role
    if display_name is not None and display_name.strip():
        user.display_name = display_name.strip()
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        user.session_version += 1
        if not is_active:
            await sessions.end_user_sessions(session, user_id=user.id, reason="deactivated")
    if password is not None:
        check_password(password, username=user.username)
        user.password_hash = hash_password(password)
        user.session_version += 1
        await sessions.end_user_sessions(session, user_id=user.id, reason="password_reset")
    b, a = audit.diff(before, _public(user))
    if password is not None:
        a["password"] = "reset"  # noqa: S105 - a marker, not a secret
    await audit.record(
        session,
        actor=actor,
        action="user.updated",
        entity_type="user",
        entity_id=user.id,
        before=b,
        after=a,
    )
    return user


async def change_own_password(
    session: AsyncSession,
    *,
    user: User,
    current_password: str,
    new_password: str,
    keep_session_id: int | None,
    actor: Actor,
) -> int:
    """The user's own change: needs the current password; ends every other session of theirs
    (returns how many)."""
    if not verify_password(user.password_hash, current_password):
        await audit.record(
            session,
            actor=actor,
            action="auth.password_change_failed",
            entity_type="user",
            entity_id=user.id,
        )
        raise Unauthorized("the current password is wrong", code="current_password_wrong")
    check_password(new_password, username=user.username)
    if verify_password(user.password_hash, new_password):
        raise InvalidInput(
            "choose a password different from the current one", code="password_unchanged"
        )
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    ended = await sessions.end_user_sessions(
        session, user_id=user.id, reason="password_changed", keep_id=keep_session_id
    )
    await audit.record(
        session,
        actor=actor,
        action="auth.password_changed",
        entity_type="user",
        entity_id=user.id,
        after={"other_sessions_ended": ended},
    )
    return ended
