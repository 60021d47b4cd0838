"""FastAPI dependencies: one transaction per request, the logged-in user, role checks, CSRF."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import events
from xiaoer.audit.service import Actor
from xiaoer.auth import sessions
from xiaoer.auth.models import Role, SessionStage, User, UserSession
from xiaoer.auth.service import actor_for
from xiaoer.auth.throttle import LoginThrottle
from xiaoer.config import Settings
from xiaoer.errors import Forbidden, Unauthorized
from xiaoer.web import clientip

SESSION_COOKIE = "xiaoer_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response leaves, then frames published."""
    async with request.app.state.sessions() as session:
        try:
            async with session.begin():
                yield session
        except BaseException:
            events.discard_pending(session)
            raise
        await request.app.state.bus.publish_pending(events.take_pending(session))


DB = Annotated[AsyncSession, Depends(db_session, scope="function")]


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="xiaoer-session")


def session_lifetime(settings: Settings) -> dt.timedelta:
    return dt.timedelta(hours=settings.session_max_hours)


def session_idle(settings: Settings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.session_idle_minutes)


def make_session_cookie(request: Request, token: str) -> tuple[str, str]:
    """A signed cookie value carrying the server-side session's token, and a CSRF token bound
    to this login."""
    csrf = secrets.token_urlsafe(24)
    return _serializer(request).dumps({"sid": token, "csrf": csrf}), csrf


def read_session_cookie(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        max_age = int(request.app.state.settings.session_max_hours * 3600)
        data = _serializer(request).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    return data


async def session_for_cookie(
    session: AsyncSession, settings: Settings, cookie: dict[str, Any] | None
) -> tuple[UserSession, User] | None:
    """The live server-side session a cookie names and its (active) user, at any stage."""
    if not cookie:
        return None
    row = await sessions.find_session(session, token=cookie["sid"], idle=session_idle(settings))
    if row is None:
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return row, user


async def _check_csrf(request: Request, data: dict[str, Any]) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf_token")  # type: ignore[assignment]
    if not sent or not secrets.compare_digest(str(sent), str(data.get("csrf", ""))):
        raise Forbidden("missing or invalid CSRF token", code="csrf")


async def optional_user(request: Request, session: DB) -> User | None:
    """The logged-in user of a fully established session (past any second-factor step)."""
    data = read_session_cookie(request)
    found = await session_for_cookie(session, request.app.state.settings, data)
    if found is None or data is None or found[0].stage != SessionStage.active:
        return None
    row, user = found
    await _check_csrf(request, data)
    request.state.user = user
    request.state.user_session = row
    # Templates get a detached copy: an error page renders after the rollback expired `user`.
    request.state.user_view = SimpleNamespace(
        **{
            c.key: getattr(user, c.key)
            for c in inspect(User).column_attrs
            if c.key not in ("password_hash", "totp_secret")
        }
    )
    request.state.csrf_token = data.get("csrf", "")
    return user


async def login_in_progress(request: Request, session: DB) -> tuple[UserSession, User] | None:
    """A session at any stage: the second-factor and enrolment pages accept a login that has
    not finished yet. CSRF-checked like every session."""
    data = read_session_cookie(request)
    found = await session_for_cookie(session, request.app.state.settings, data)
    if found is None or data is None:
        return None
    await _check_csrf(request, data)
    request.state.csrf_token = data.get("csrf", "")
    return found


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("login required", key="login_required")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Any:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden("your role may not do this", key="role_forbidden")
        return user

    return Depends(check)


Supervisor = Annotated[User, require_role(Role.admin, Role.supervisor)]
Admin = Annotated[User, require_role(Role.admin)]


def client_ip(request: Request) -> str:
    return clientip.client_ip(request)


def login_throttle(request: Request) -> LoginThrottle:
    """Failed logins (and supervisor overrides) counted on the app's shared rate limiter."""
    return LoginThrottle(request.app.state.ratelimiter)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def ops_access(request: Request, session: DB) -> None:
    """`/metrics` and the API docs: open outside production; in production a staff login or
    `Authorization: Bearer <XIAOER_METRICS_TOKEN>`."""
    settings: Settings = request.app.state.settings
    if not settings.is_production:
        return
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    sent = _bearer(request)
    if token and sent and secrets.compare_digest(sent.encode(), token.encode()):
        return
    data = read_session_cookie(request)
    found = await session_for_cookie(session, settings, data)
    if found is not None and found[0].stage == SessionStage.active:
        return
    raise Unauthorized("login or a metrics token required", code="unauthorized")


OpsAccess = Depends(ops_access)


def user_actor(request: Request, user: User) -> Actor:
    return actor_for(user, client_ip(request))
