"""Users JSON API (admin), the staff list for transfers, and who-am-I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from xiaoer.auth import mfa, service, sessions
from xiaoer.auth.models import UserSession
from xiaoer.auth.schemas import (
    AgentRead,
    Me,
    PasswordChange,
    SecuritySettings,
    SessionRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from xiaoer.bounds import Id
from xiaoer.conversations.inbox import staff_with_open_chats
from xiaoer.web.deps import DB, Admin, CurrentUser, session_idle, user_actor

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me")
async def me(request: Request, user: CurrentUser) -> Me:
    """The logged-in user and the CSRF token their unsafe requests must send."""
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        shop_id=user.shop_id,
        csrf_token=request.state.csrf_token,
    )


@router.get("/users")
async def list_users(session: DB, user: Admin) -> list[UserRead]:
    users = await service.list_users(session, shop_id=user.shop_id)
    return [UserRead.model_validate(u) for u in users]


@router.post("/users", status_code=201)
async def create_user(request: Request, body: UserCreate, session: DB, user: Admin) -> UserRead:
    created = await service.create_user(
        session,
        shop_id=user.shop_id,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        actor=user_actor(request, user),
    )
    return UserRead.model_validate(created)


@router.patch("/users/{user_id}")
async def update_user(
    request: Request, user_id: Id, body: UserUpdate, session: DB, user: Admin
) -> UserRead:
    target = await service.access_user(session, user, user_id)
    updated = await service.update_user(
        session,
        user=target,
        actor=user_actor(request, user),
        role=body.role,
        is_active=body.is_active,
        display_name=body.display_name,
        password=body.password,
    )
    return UserRead.model_validate(updated)


@router.get("/agents")
async def list_agents(session: DB, user: CurrentUser) -> list[AgentRead]:
    """Active staff of the caller's shop with their current chat load (transfer picker)."""
    rows = await staff_with_open_chats(session, shop_id=user.shop_id)
    return [
        AgentRead(id=u.id, display_name=u.display_name, role=u.role, open_chats=n) for u, n in rows
    ]


@router.post("/me/password", status_code=204)
async def change_password(
    request: Request, body: PasswordChange, session: DB, user: CurrentUser
) -> Response:
    """Changes the caller's password and ends their other sessions. A wrong current password
    is a 401 (`current_password_wrong`); a weak new one a 422 (`password_common`, …)."""
    current: UserSession = request.state.user_session
    await service.change_own_password(
        session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session_id=current.id,
        actor=user_actor(request, user),
    )
    return Response(status_code=204)


@router.get("/users/{user_id}/sessions")
async def list_sessions(
    request: Request, user_id: Id, session: DB, user: Admin
) -> list[SessionRead]:
    target = await service.access_user(session, user, user_id)
    rows = await sessions.live_sessions(
        session, user_id=target.id, idle=session_idle(request.app.state.settings)
    )
    return [SessionRead.model_validate(r) for r in rows]


@router.delete("/users/{user_id}/sessions/{session_id}", status_code=204)
async def end_session(
    request: Request, user_id: Id, session_id: Id, session: DB, user: Admin
) -> Response:
    """Ends one session of a user of the admin's shop (audited `auth.session_ended`)."""
    target = await service.access_user(session, user, user_id)
    row = await sessions.access_session(session, user, user_id=target.id, session_id=session_id)
    await sessions.end_session_by_admin(session, row=row, actor=user_actor(request, user))
    return Response(status_code=204)


@router.post("/users/{user_id}/mfa/reset", status_code=204)
async def reset_mfa(request: Request, user_id: Id, session: DB, user: Admin) -> Response:
    """Turns a user's TOTP off (a lost phone) and ends their sessions; they enrol again at the
    next login if the shop requires it."""
    target = await service.access_user(session, user, user_id)
    await mfa.disable_mfa(session, user=target, actor=user_actor(request, user), by_admin=True)
    await sessions.end_user_sessions(session, user_id=target.id, reason="mfa_changed")
    return Response(status_code=204)


@router.get("/security")
async def get_security(session: DB, user: Admin) -> SecuritySettings:
    return SecuritySettings(
        mfa_required=await mfa.mfa_required_for_shop(session, shop_id=user.shop_id)
    )


@router.put("/security")
async def put_security(
    request: Request, body: SecuritySettings, session: DB, user: Admin
) -> SecuritySettings:
    await mfa.set_shop_mfa_requirement(
        session, shop_id=user.shop_id, required=body.mfa_required, actor=user_actor(request, user)
    )
    return body
