"""Scripts JSON API: every staff member may read; admins and supervisors change the library."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from xiaoer.knowledge import service
from xiaoer.knowledge.models import Script, ScriptStatus
from xiaoer.knowledge.schemas import (
    ScriptCreate,
    ScriptPage,
    ScriptRead,
    ScriptUpdate,
    VariableRead,
)
from xiaoer.web.deps import DB, CurrentUser, Supervisor, user_actor

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])


def script_read(script: Script) -> ScriptRead:
    return ScriptRead(
        id=script.id,
        title=script.title,
        category=script.category,
        answer=script.answer,
        status=script.status,
        questions=[q.text for q in script.questions],
        variables=service.answer_variables(script.answer),
        created_at=script.created_at,
        updated_at=script.updated_at,
    )


@router.get("")
async def list_scripts(
    session: DB,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=200)] = "",
    status: ScriptStatus | None = None,
    category: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ScriptPage:
    """Search title, answer, category and question variants."""
    if status == ScriptStatus.retired:
        status = None  # deleted scripts are never listed
    items, total = await service.list_scripts(
        session,
        shop_id=user.shop_id,
        q=q,
        status=status,
        category=category,
        limit=limit,
        offset=offset,
    )
    return ScriptPage(
        items=[script_read(s) for s in items], total=total, limit=limit, offset=offset
    )


@router.get("/variables")
async def list_variables(user: CurrentUser) -> list[VariableRead]:
    """The `{variables}` an answer may use."""
    return [VariableRead(**v) for v in service.variable_help()]


@router.get("/{script_id}")
async def get_script(script_id: int, session: DB, user: CurrentUser) -> ScriptRead:
    return script_read(await service.access_script(session, user, script_id))


@router.post("", status_code=201)
async def create_script(
    request: Request, body: ScriptCreate, session: DB, user: Supervisor
) -> ScriptRead:
    script = await service.create_script(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        title=body.title,
        category=body.category,
        answer=body.answer,
        questions=body.questions,
        publish=body.publish,
    )
    return script_read(script)


@router.patch("/{script_id}")
async def update_script(
    request: Request, script_id: int, body: ScriptUpdate, session: DB, user: Supervisor
) -> ScriptRead:
    script = await service.access_script(session, user, script_id)
    await service.update_script(
        session,
        script=script,
        actor=user_actor(request, user),
        title=body.title,
        category=body.category,
        answer=body.answer,
        questions=body.questions,
    )
    return script_read(script)


@router.post("/{script_id}/publish")
async def publish_script(
    request: Request, script_id: int, session: DB, user: Supervisor
) -> ScriptRead:
    script = await service.access_script(session, user, script_id)
    await service.publish_script(session, script=script, actor=user_actor(request, user))
    return script_read(script)


@router.post("/{script_id}/unpublish")
async def unpublish_script(
    request: Request, script_id: int, session: DB, user: Supervisor
) -> ScriptRead:
    script = await service.access_script(session, user, script_id)
    await service.unpublish_script(session, script=script, actor=user_actor(request, user))
    return script_read(script)


@router.delete("/{script_id}", status_code=204)
async def delete_script(
    request: Request, script_id: int, session: DB, user: Supervisor
) -> Response:
    script = await service.access_script(session, user, script_id)
    await service.delete_script(session, script=script, actor=user_actor(request, user))
    return Response(status_code=204)
