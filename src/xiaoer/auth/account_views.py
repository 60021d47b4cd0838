"""The second login step (TOTP or a recovery code), MFA enrolment, and the user's own account
page (password change, two-step login on and off, new recovery codes).

The enrolment secret travels in a signed, short-lived form field bound to the user, so nothing
is stored until the authenticator has proved it holds the secret.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from xiaoer.auth import mfa, service, sessions
from xiaoer.auth.models import SessionStage, User, UserSession
from xiaoer.auth.password_policy import MIN_PASSWORD_LENGTH
from xiaoer.auth.passwords import verify_password
from xiaoer.auth.views import (
    HOME,
    LoginInProgress,
    _t,
    password_error,
    safe_next,
    set_session_cookie,
)
from xiaoer.errors import DomainError, Forbidden
from xiaoer.shops import service as shops
from xiaoer.web.deps import (
    DB,
    CurrentUser,
    login_throttle,
    session_lifetime,
    user_actor,
)
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

ENROL_TOKEN_MAX_AGE = 15 * 60


def _enrol_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="xiaoer-mfa-enrol")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


async def _promote(
    request: Request, session: DB, row: UserSession, user: User, next_path: str
) -> tuple[str, str]:
    """Finishes a pending login: a new token for an active session."""
    _new, token = await sessions.promote_session(
        session,
        row=row,
        user=user,
        ip=row.ip,
        user_agent=request.headers.get("user-agent", "")[:300],
        lifetime=session_lifetime(request.app.state.settings),
    )
    return token, next_path


# ---- second login step -------------------------------------------------------------------------


def _mfa_form(
    request: Request, *, next_path: str, error: str = "", status_code: int = 200
) -> Response:
    return _no_store(
        render(request, "auth/mfa_step.html", {"next": next_path, "error": error}, status_code)
    )


@router.get("/login/mfa")
async def mfa_step_page(request: Request, pending: LoginInProgress, next: str = HOME) -> Response:
    if pending is None or pending[0].stage != SessionStage.mfa:
        return RedirectResponse("/login", status_code=303)
    return _mfa_form(request, next_path=safe_next(next))


@router.post("/login/mfa")
async def mfa_step(
    request: Request,
    session: DB,
    pending: LoginInProgress,
    code: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    next_path = safe_next(next)
    if pending is None or pending[0].stage != SessionStage.mfa:
        return RedirectResponse("/login", status_code=303)
    row, user = pending
    throttle = login_throttle(request)
    wait = await throttle.second_factor_wait(user.id)
    if wait:
        response = _mfa_form(
            request,
            next_path=next_path,
            error=_t(request, "login.error_throttled", minutes=max(1, round(wait / 60))),
            status_code=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    ok = await mfa.verify_second_factor(
        session, user=user, code=code, actor=user_actor(request, user)
    )
    if not ok:
        await throttle.second_factor_failed(user.id)
        return _mfa_form(
            request, next_path=next_path, error=_t(request, "mfa.error_code"), status_code=401
        )
    await throttle.second_factor_succeeded(user.id)
    token, target = await _promote(request, session, row, user, next_path)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


# ---- enrolment ---------------------------------------------------------------------------------


async def _enrol_page(
    request: Request,
    session: DB,
    user: User,
    *,
    next_path: str,
    secret: str | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    secret = secret or mfa.new_secret()
    shop = await shops.get_shop(session, shop_id=user.shop_id)
    context: dict[str, Any] = {
        "next": next_path,
        "error": error,
        "otpauth_uri": mfa.provisioning_uri(
            secret, username=user.username, shop_name=shop.name if shop else ""
        ),
        "manual_key": mfa.grouped(secret),
        "enrol_token": _enrol_serializer(request).dumps({"uid": user.id, "secret": secret}),
        "required": await mfa.mfa_required_for(session, user),
    }
    return _no_store(render(request, "auth/mfa_enrol.html", context, status_code))


@router.get("/account/mfa")
async def enrol_page(
    request: Request, session: DB, pending: LoginInProgress, next: str = "/account"
) -> Response:
    if pending is None or pending[0].stage == SessionStage.mfa:
        return RedirectResponse("/login", status_code=303)
    _row, user = pending
    if mfa.is_enrolled(user):
        return RedirectResponse("/account", status_code=303)
    return await _enrol_page(request, session, user, next_path=safe_next(next))


@router.post("/account/mfa")
async def enrol(
    request: Request,
    session: DB,
    pending: LoginInProgress,
    enrol_token: Annotated[str, Form(max_length=500)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/account",
) -> Response:
    next_path = safe_next(next)
    if pending is None or pending[0].stage == SessionStage.mfa:
        return RedirectResponse("/login", status_code=303)
    row, user = pending
    if mfa.is_enrolled(user):
        return RedirectResponse("/account", status_code=303)
    try:
        data = _enrol_serializer(request).loads(enrol_token, max_age=ENROL_TOKEN_MAX_AGE)
    except BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("uid") != user.id:
        return await _enrol_page(
            request,
            session,
            user,
            next_path=next_path,
            error=_t(request, "mfa.error_expired"),
            status_code=422,
        )
    secret = str(data["secret"])
    try:
        codes = await mfa.enable_mfa(
            session, user=user, secret=secret, code=code, actor=user_actor(request, user)
        )
    except DomainError:
        return await _enrol_page(
            request,
            session,
            user,
            next_path=next_path,
            secret=secret,
            error=_t(request, "mfa.error_code"),
            status_code=422,
        )
    # Sessions that never gave a second factor end; this browser goes on with a fresh token.
    await sessions.end_user_sessions(session, user_id=user.id, reason="mfa_changed")
    token, target = await _promote(request, session, row, user, next_path)
    response = _no_store(
        render(request, "auth/recovery_codes.html", {"codes": codes, "next": target})
    )
    set_session_cookie(request, response, token)
    return response


# ---- the user's own account --------------------------------------------------------------------


async def _account_page(
    request: Request,
    session: DB,
    user: User,
    *,
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    context = {
        "enrolled": mfa.is_enrolled(user),
        "required": await mfa.mfa_required_for(session, user),
        "codes_left": await mfa.unused_recovery_codes(session, user=user),
        "min_password": MIN_PASSWORD_LENGTH,
        "error": error,
        "notice": notice or request.query_params.get("notice", ""),
    }
    return _no_store(render(request, "auth/account.html", context, status_code))


@router.get("/account")
async def account_page(request: Request, session: DB, user: CurrentUser) -> Response:
    return await _account_page(request, session, user)


@router.post("/account/password")
async def change_password(
    request: Request,
    session: DB,
    user: CurrentUser,
    current_password: Annotated[str, Form(max_length=500)] = "",
    new_password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    row: UserSession = request.state.user_session
    try:
        await service.change_own_password(
            session,
            user=user,
            current_password=current_password,
            new_password=new_password,
            keep_session_id=row.id,
            actor=user_actor(request, user),
        )
    except DomainError as exc:
        if exc.code.startswith("password_"):
            message = password_error(request, exc.code)
        else:
            message = _t(request, f"account.error_{exc.code}")
        # Returned, not raised: a wrong current password is audited and that must commit.
        return await _account_page(
            request, session, user, error=message, status_code=exc.status_code
        )
    return RedirectResponse("/account?notice=password", status_code=303)


def _password_ok(user: User, password: str) -> bool:
    return verify_password(user.password_hash, password)


@router.post("/account/mfa/recovery-codes")
async def renew_recovery_codes(
    request: Request,
    session: DB,
    user: CurrentUser,
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if not _password_ok(user, password):
        return await _account_page(
            request,
            session,
            user,
            error=_t(request, "account.error_current_password_wrong"),
            status_code=401,
        )
    codes = await mfa.regenerate_recovery_codes(session, user=user, actor=user_actor(request, user))
    return _no_store(
        render(request, "auth/recovery_codes.html", {"codes": codes, "next": "/account"})
    )


@router.post("/account/mfa/disable")
async def disable_mfa(
    request: Request,
    session: DB,
    user: CurrentUser,
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if not _password_ok(user, password):
        return await _account_page(
            request,
            session,
            user,
            error=_t(request, "account.error_current_password_wrong"),
            status_code=401,
        )
    try:
        await mfa.disable_mfa(session, user=user, actor=user_actor(request, user), by_admin=False)
    except Forbidden:
        return await _account_page(
            request, session, user, error=_t(request, "account.error_mfa_required"), status_code=403
        )
    row: UserSession = request.state.user_session
    await sessions.end_user_sessions(session, user_id=user.id, reason="mfa_changed", keep_id=row.id)
    return RedirectResponse("/account?notice=mfa_off", status_code=303)
