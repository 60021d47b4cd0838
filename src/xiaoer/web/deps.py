"""FastAPI dependencies: one transaction per request, the logged-in user, role checks, CSRF."""

from __future__ import annotations

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
from xiaoer.auth.models import Role, User
from xiaoer.auth.service import actor_for
from xiaoer.errors import Forbidden, Unauthorized
from xiaoer.logs import bind_ids

SESSION_COOKIE = "xiaoer_session"
SESSION_MAX_AGE = 12 * 3600
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


def make_session_cookie(request: Request, user: User) -> tuple[str, str]:
    """A signed cookie value and its CSRF token (bound to this login)."""
    csrf = secrets.token_urlsafe(24)
    value = _serializer(request).dumps({"uid": user.id, "ver": user.session_version, "csrf": csrf})
    return value, csrf


def read_session_cookie(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request).loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


async def optional_user(request: Request, session: DB) -> User | None:
    data = read_session_cookie(request)
    if not data:
        return None
    user = await session.get(User, data.get("uid"))
    if user is None or not user.is_active or user.session_version != data.get("ver"):
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf_token")  # type: ignore[assignment]
        if not sent or not secrets.compare_digest(str(sent), str(data.get("csrf", ""))):
            raise Forbidden("missing or invalid CSRF token", code="csrf")
    request.state.user = user
    conversation_id = request.path_params.get("conversation_id")
    bind_ids(shop_id=user.shop_id, user_id=user.id, conversation_id=conversation_id)
    # Templates get a detached copy: an error page renders after the rollback expired `user`.
    request.state.user_view = SimpleNamespace(
        **{
            c.key: getattr(user, c.key)
            for c in inspect(User).column_attrs
            if c.key != "password_hash"
        }
    )
    request.state.csrf_token = data.get("csrf", "")
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("login required")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Any:
    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden("your role may not do this")
        return user

    return Depends(check)


Supervisor = Annotated[User, require_role(Role.admin, Role.supervisor)]
Admin = Annotated[User, require_role(Role.admin)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def user_actor(request: Request, user: User) -> Actor:
    return actor_for(user, client_ip(request))
