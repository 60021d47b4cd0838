"""Staff sessions kept on the server: started at login, checked on every request, ended by
logout, a password change or reset, deactivation, an MFA change or an admin.

The browser holds a random token (inside the signed session cookie); the table holds its
SHA-256. A session is live while it has not ended, is younger than its absolute lifetime and
has seen a request within the idle timeout. `last_seen_at` is written at most once a minute
so that reads stay reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import SessionStage, User, UserSession
from xiaoer.errors import NotFound

TOUCH_EVERY = dt.timedelta(minutes=1)
# A login that stops at the second factor or the enrolment must finish soon.
PENDING_LIFETIME = dt.timedelta(minutes=15)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession,
    *,
    user: User,
    stage: SessionStage,
    ip: str,
    user_agent: str,
    lifetime: dt.timedelta,
) -> tuple[UserSession, str]:
    """A new session and the token for the cookie (the only time the token exists in clear)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = UserSession(
        token_hash=token_hash(token),
        user_id=user.id,
        shop_id=user.shop_id,
        stage=stage,
        last_seen_at=now,
        expires_at=now + (lifetime if stage == SessionStage.active else PENDING_LIFETIME),
        ip=ip[:45],
        user_agent=user_agent[:300],
    )
    session.add(row)
    await session.flush()
    return row, token


def is_live(row: UserSession, *, now: dt.datetime, idle: dt.timedelta) -> bool:
    return row.ended_at is None and now < row.expires_at and now - row.last_seen_at < idle


async def find_session(
    session: AsyncSession, *, token: str, idle: dt.timedelta
) -> UserSession | None:
    """The live session for a cookie's token; an expired one is marked ended on the way."""
    row = await session.scalar(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    )
    if row is None or row.ended_at is not None:
        return None
    now = clock.now()
    if not is_live(row, now=now, idle=idle):
        row.ended_at = now
        row.end_reason = "expired"
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


async def promote_session(
    session: AsyncSession,
    *,
    row: UserSession,
    user: User,
    ip: str,
    user_agent: str,
    lifetime: dt.timedelta,
) -> tuple[UserSession, str]:
    """After the second factor (or the enrolment) the pending session ends and an active one
    with a new token starts: a token seen before the login finished never becomes a login."""
    await end_session(session, row=row, reason="promoted")
    return await start_session(
        session,
        user=user,
        stage=SessionStage.active,
        ip=ip,
        user_agent=user_agent,
        lifetime=lifetime,
    )


async def end_session(session: AsyncSession, *, row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = clock.now()
        row.end_reason = reason


async def end_user_sessions(
    session: AsyncSession, *, user_id: int, reason: str, keep_id: int | None = None
) -> int:
    """Ends every live session of a user (but `keep_id`); returns how many were ended."""
    query = (
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    if keep_id is not None:
        query = query.where(UserSession.id != keep_id)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


async def live_sessions(
    session: AsyncSession, *, user_id: int, idle: dt.timedelta
) -> list[UserSession]:
    """A user's live sessions, newest first (what admins see and may end)."""
    now = clock.now()
    rows = await session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - idle,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(rows)


async def access_session(
    session: AsyncSession, viewer: User, *, user_id: int, session_id: int
) -> UserSession:
    """A session of a user of the viewer's shop; NotFound for anything else."""
    row = await session.get(UserSession, session_id)
    if row is None or row.user_id != user_id or row.shop_id != viewer.shop_id:
        raise NotFound("session not found")
    return row


async def end_session_by_admin(session: AsyncSession, *, row: UserSession, actor: Actor) -> None:
    was_live = row.ended_at is None
    await end_session(session, row=row, reason="ended_by_admin")
    await audit.record(
        session,
        actor=actor,
        action="auth.session_ended",
        entity_type="user",
        entity_id=row.user_id,
        before={"session": row.id, "ip": row.ip, "user_agent": row.user_agent[:100]},
        after={"ended": True, "was_live": was_live},
    )
