"""Staff accounts: create, authenticate, deactivate, reset password, change role."""

from __future__ import annotations

import math
import time
from collections import deque

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import Role, User
from xiaoer.auth.passwords import hash_password, verify_password
from xiaoer.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

MIN_PASSWORD_LENGTH = 8


def actor_for(user: User, ip: str = "") -> Actor:
    return Actor(type="user", id=user.id, name=user.username, shop_id=user.shop_id, ip=ip)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


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
    _check_password(password)
    if await session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"username {username!r} is taken")
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


async def authenticate(session: AsyncSession, *, username: str, password: str, ip: str) -> User:
    """Checks a login; both outcomes land in the audit log."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
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
        user.session_version += 1  # logs the user out everywhere
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        user.session_version += 1
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


async def staff_with_open_chats(session: AsyncSession, *, shop_id: int) -> list[tuple[User, int]]:
    """Active staff of a shop with how many conversations each is handling right now
    (the transfer picker and the workspace show the load)."""
    # A read of the conversations table: the count has no owner of its own and is cheap here.
    from xiaoer.conversations.models import Conversation, ConversationStatus

    load = (
        select(Conversation.assignee_id, func.count().label("n"))
        .where(Conversation.shop_id == shop_id, Conversation.status == ConversationStatus.active)
        .group_by(Conversation.assignee_id)
        .subquery()
    )
    rows = await session.execute(
        select(User, func.coalesce(load.c.n, 0))
        .outerjoin(load, load.c.assignee_id == User.id)
        .where(User.shop_id == shop_id, User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return [(user, int(n)) for user, n in rows.all()]


class LoginThrottle:
    """Failed logins per (username, ip) in a sliding window, kept in this process's memory.

    Memory is enough: the limit slows password guessing against one account from one address;
    a restart resetting the counters costs an attacker nothing they could not get by waiting.
    """

    def __init__(self, *, max_failures: int = 10, window_seconds: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_seconds:
            times.popleft()
        return times

    def retry_after(self, username: str, ip: str, *, now: float | None = None) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = time.monotonic() if now is None else now
        key = (username.strip().lower(), ip)
        times = self._recent(key, now)
        if not times:
            self._failures.pop(key, None)
        if len(times) < self.max_failures:
            return 0
        return max(1, math.ceil(self.window_seconds - (now - times[0])))

    def failed(self, username: str, ip: str, *, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._failures) > 100_000:  # bound memory under a spray of usernames
            self._failures.clear()
        self._recent((username.strip().lower(), ip), now).append(now)

    def succeeded(self, username: str, ip: str) -> None:
        self._failures.pop((username.strip().lower(), ip), None)


async def shop_timezone(session: AsyncSession, *, shop_id: int) -> str:
    """The time zone staff pages show times in (stored times are UTC)."""
    from xiaoer.shops.models import Shop

    tz = await session.scalar(select(Shop.timezone).where(Shop.id == shop_id))
    return tz or "Asia/Shanghai"
