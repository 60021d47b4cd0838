"""Users JSON API (admin), the staff list for transfers, and who-am-I."""

from __future__ import annotations

from fastapi import APIRouter, Request

from xiaoer.auth import service
from xiaoer.auth.schemas import AgentRead, Me, UserCreate, UserRead, UserUpdate
from xiaoer.bounds import Id
from xiaoer.web.deps import DB, Admin, CurrentUser, user_actor

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
    rows = await service.staff_with_open_chats(session, shop_id=user.shop_id)
    return [
        AgentRead(id=u.id, display_name=u.display_name, role=u.role, open_chats=n) for u, n in rows
    ]
