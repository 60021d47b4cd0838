"""Login, logout and the users admin page.

The login form has its own CSRF protection before any session exists: a random nonce goes into
the form and, signed, into a short-lived cookie scoped to /login; a post is accepted only when
both match (a cross-site page can post the form but cannot read or set that cookie).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from xiaoer.audit import service as audit
from xiaoer.auth import mfa, service, sessions
from xiaoer.auth.models import Role, SessionStage, User, UserSession
from xiaoer.auth.password_policy import MIN_PASSWORD_LENGTH, password_problem
from xiaoer.bounds import Id
from xiaoer.errors import Conflict, DomainError, Unauthorized
from xiaoer.web.deps import (
    DB,
    SESSION_COOKIE,
    Admin,
    client_ip,
    login_in_progress,
    login_throttle,
    make_session_cookie,
    optional_user,
    read_session_cookie,
    session_for_cookie,
    session_lifetime,
    user_actor,
)
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "xiaoer_login"
LOGIN_TOKEN_MAX_AGE = 2 * 3600
HOME = "/workspace"

OptionalUser = Annotated[User | None, Depends(optional_user)]
LoginInProgress = Annotated[tuple[UserSession, User] | None, Depends(login_in_progress)]
MFA_STEP = "/login/mfa"
ENROL_STEP = "/account/mfa"


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def safe_next(target: str | None) -> str:
    """Only same-site paths: `//evil.example` and `/\\evil.example` are other hosts to a browser."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    if any(ch in target for ch in "\r\n\t") or target.startswith(("/login", "/logout")):
        return HOME
    return target


def _login_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="xiaoer-login")


def _login_nonce(request: Request) -> str | None:
    raw = request.cookies.get(LOGIN_COOKIE)
    if not raw:
        return None
    try:
        nonce = _login_serializer(request).loads(raw, max_age=LOGIN_TOKEN_MAX_AGE)
    except BadSignature:
        return None
    return nonce if isinstance(nonce, str) else None


def _login_form(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str = "",
    status_code: int = 200,
) -> Response:
    # Reuse a still-valid nonce so two open login tabs do not invalidate each other.
    nonce = _login_nonce(request) or secrets.token_urlsafe(24)
    response = render(
        request,
        "auth/login.html",
        {"csrf_token": nonce, "next": next_path, "username": username, "error": error},
        status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        _login_serializer(request).dumps(nonce),
        max_age=LOGIN_TOKEN_MAX_AGE,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=_is_https(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _t(request: Request, key: str, **params: object) -> str:
    return translate(
        request_locale(request, request.app.state.settings.default_locale), key, **params
    )


def password_error(request: Request, code: str) -> str:
    """The page text for a password refusal code of `password_policy`."""
    return _t(request, f"password.{code}", n=MIN_PASSWORD_LENGTH)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    value, _csrf = make_session_cookie(request, token)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(request.app.state.settings.session_max_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_is_https(request) or request.app.state.settings.is_production,
    )


def step_url(stage: SessionStage, next_path: str) -> str:
    """Where a login at `stage` continues."""
    if stage == SessionStage.mfa:
        return f"{MFA_STEP}?next={quote(next_path)}"
    if stage == SessionStage.enrol:
        return f"{ENROL_STEP}?next={quote(next_path)}"
    return next_path


@router.get("/")
async def home(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse(HOME if user else "/login", status_code=303)


@router.get("/login")
async def login_page(request: Request, pending: LoginInProgress, next: str = HOME) -> Response:
    if pending is not None:  # logged in, or half-way: go on from where the login stands
        return RedirectResponse(step_url(pending[0].stage, safe_next(next)), status_code=303)
    return _login_form(request, next_path=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    next_path = safe_next(next)
    username = username.strip()
    nonce = _login_nonce(request)
    if not nonce or not csrf_token or not secrets.compare_digest(nonce, csrf_token):
        return _login_form(
            request,
            next_path=next_path,
            username=username,
            error=_t(request, "login.error_csrf"),
            status_code=403,
        )
    if not username or not password:
        return _login_form(
            request,
            next_path=next_path,
            username=username,
            error=_t(request, "login.error_required"),
            status_code=422,
        )
    ip = client_ip(request)
    throttle = login_throttle(request)
    wait = await throttle.retry_after(username, ip)
    if wait:
        response = _login_form(
            request,
            next_path=next_path,
            username=username,
            error=_t(request, "login.error_throttled", minutes=max(1, round(wait / 60))),
            status_code=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        user = await service.authenticate(session, username=username, password=password, ip=ip)
    except Unauthorized:
        # The failed attempt is already in the audit log; returning normally commits it.
        await throttle.failed(username, ip)
        return _login_form(
            request,
            next_path=next_path,
            username=username,
            error=_t(request, "login.error_credentials"),
            status_code=401,
        )
    await throttle.succeeded(username, ip)
    settings = request.app.state.settings
    previous = await session_for_cookie(session, settings, read_session_cookie(request))
    if previous is not None:  # a browser logging in again does not leave a session behind
        await sessions.end_session(session, row=previous[0], reason="replaced")
    stage = await mfa.login_stage(session, user)
    _row, token = await sessions.start_session(
        session,
        user=user,
        stage=stage,
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
        lifetime=session_lifetime(settings),
    )
    response = RedirectResponse(step_url(stage, next_path), status_code=303)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, session: DB, pending: LoginInProgress) -> RedirectResponse:
    """Ends the session on the server. Needs the session's CSRF token (checked by
    `login_in_progress`), so no site can log you out."""
    if pending is not None:
        row, user = pending
        await sessions.end_session(session, row=row, reason="logout")
        await audit.record(
            session,
            actor=user_actor(request, user),
            action="auth.logout",
            entity_type="user",
            entity_id=user.id,
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---- users admin page -------------------------------------------------------------------------

ROLES = [r.value for r in Role]


async def _users_page(
    request: Request,
    session: DB,
    user: User,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    users = await service.list_users(session, shop_id=user.shop_id)
    notice = request.query_params.get("notice", "")
    return render(
        request,
        "auth/users.html",
        {
            "users": users,
            "enrolled": {u.id for u in users if mfa.is_enrolled(u)},
            "mfa_required": await mfa.mfa_required_for_shop(session, shop_id=user.shop_id),
            "min_password": MIN_PASSWORD_LENGTH,
            "roles": ROLES,
            "error": error,
            "notice": notice if notice in ("created", "updated", "security") else "",
            "form": form or {},
        },
        status_code,
    )


@router.get("/admin/users")
async def users_page(request: Request, session: DB, user: Admin) -> Response:
    return await _users_page(request, session, user)


@router.post("/admin/users")
async def create_user_form(
    request: Request,
    session: DB,
    user: Admin,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "agent",
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    form = {"username": username.strip(), "display_name": display_name.strip(), "role": role}
    error = ""
    if not form["username"] or len(form["username"]) > 64:
        error = _t(request, "users.error_username")
    elif len(form["display_name"]) > 100:
        error = _t(request, "users.error_display_name")
    elif role not in ROLES:
        error = _t(request, "users.error_role")
    elif problem := password_problem(password, username=form["username"]):
        error = password_error(request, problem)
    if error:
        return await _users_page(request, session, user, error=error, form=form, status_code=422)
    try:
        await service.create_user(
            session,
            shop_id=user.shop_id,
            username=form["username"],
            password=password,
            role=Role(role),
            display_name=form["display_name"],
            actor=user_actor(request, user),
        )
    except Conflict:
        error = _t(request, "users.error_taken")
        return await _users_page(request, session, user, error=error, form=form, status_code=409)
    return RedirectResponse("/admin/users?notice=created", status_code=303)


@router.post("/admin/users/{user_id}")
async def update_user_form(
    request: Request,
    user_id: Id,
    session: DB,
    user: Admin,
    action: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """One form per action: change role, deactivate, reactivate, reset password."""
    target = await service.access_user(session, user, user_id)
    changes: dict[str, object] = {}
    if action == "role" and role in ROLES:
        changes["role"] = Role(role)
    elif action in ("deactivate", "reactivate"):
        changes["is_active"] = action == "reactivate"
    elif action == "password":
        if problem := password_problem(password, username=target.username):
            error = password_error(request, problem)
            return await _users_page(request, session, user, error=error, status_code=422)
        changes["password"] = password
    elif action == "mfa_reset":
        await mfa.disable_mfa(session, user=target, actor=user_actor(request, user), by_admin=True)
        await sessions.end_user_sessions(session, user_id=target.id, reason="mfa_changed")
        return RedirectResponse("/admin/users?notice=updated", status_code=303)
    else:
        return await _users_page(
            request, session, user, error=_t(request, "users.error_action"), status_code=422
        )
    try:
        await service.update_user(
            session,
            user=target,
            actor=user_actor(request, user),
            **changes,  # type: ignore[arg-type]
        )
    except DomainError as exc:
        message = _t(request, "users.error_self") if exc.status_code == 403 else exc.message
        return await _users_page(request, session, user, error=message, status_code=exc.status_code)
    return RedirectResponse("/admin/users?notice=updated", status_code=303)


@router.post("/admin/security")
async def security_form(
    request: Request,
    session: DB,
    user: Admin,
    mfa_required: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """The shop's rule: admins and supervisors must use two-step login."""
    await mfa.set_shop_mfa_requirement(
        session,
        shop_id=user.shop_id,
        required=mfa_required == "on",
        actor=user_actor(request, user),
    )
    return RedirectResponse("/admin/users?notice=security", status_code=303)
