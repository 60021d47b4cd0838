"""Scripts JSON API.

Every staff member reads the library, writes drafts and submits them for review; supervisors and
admins publish (refused while a wording has a blocking compliance finding), return drafts,
withdraw, delete and roll back; admins configure the shop's lint rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from xiaoer.bounds import INT64_MAX, Id
from xiaoer.commerce import service as commerce
from xiaoer.errors import Forbidden, NotFound
from xiaoer.knowledge import categories, rules, service, versions
from xiaoer.knowledge.models import Script, ScriptStatus
from xiaoer.knowledge.schemas import (
    AnswerVariant,
    CategoryNode,
    CheckBody,
    CheckRead,
    DiffRead,
    LintSettingsBody,
    LintSettingsRead,
    OrderOption,
    PreviewBody,
    PreviewRead,
    PublishBody,
    RollbackBody,
    ScriptCreate,
    ScriptDetail,
    ScriptPage,
    ScriptRead,
    ScriptUpdate,
    VariableRead,
    VersionDetail,
    VersionRead,
)
from xiaoer.web.deps import DB, Admin, CurrentUser, Supervisor, user_actor

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])
MANAGERS = ("admin", "supervisor")


def script_read(script: Script) -> ScriptRead:
    return ScriptRead(**_fields(script))


def _fields(script: Script) -> dict[str, Any]:
    return {
        "id": script.id,
        "title": script.title,
        "category": script.category,
        "kind": categories.category_kind(script.category),
        "answer": script.answer,
        "answers": [
            AnswerVariant(channel=a.channel, variant=a.variant, body=a.body)
            for a in sorted(script.answers, key=lambda a: (str(a.channel), a.variant))
        ],
        "triggers": dict(script.triggers or {}),
        "bot_enabled": script.bot_enabled is not False,
        "status": script.status,
        "published_version": script.published_version,
        "questions": [q.text for q in script.questions],
        "variables": service.answer_variables(
            "\n".join(body for _, _, body in service.answer_texts(script))
        ),
        "created_at": script.created_at,
        "updated_at": script.updated_at,
    }


async def script_detail(session: DB, script: Script, role: str) -> ScriptDetail:
    checks = await service.check_script(session, script=script, role=service.lint_role(role))
    return ScriptDetail(
        **_fields(script),
        blocked=any(c.blocked for c in checks),
        checks=[c.public() for c in checks],
    )


def _answers(items: list[AnswerVariant] | None) -> dict[tuple[str, str], str | None] | None:
    if items is None:
        return None
    return {(str(a.channel), a.variant): a.body for a in items}


@router.get("")
async def list_scripts(
    session: DB,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=200)] = "",
    status: ScriptStatus | None = None,
    category: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> ScriptPage:
    """Search title, answer, category and question variants; `status=review` is the review
    queue; `category` matches the path and its sub-categories."""
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
    """The typed `{variables}` an answer may use."""
    return [VariableRead(**v) for v in service.variable_help()]


def _with_kinds(nodes: list[dict[str, Any]]) -> list[CategoryNode]:
    return [
        CategoryNode(
            name=n["name"],
            path=n["path"],
            kind=categories.category_kind(n["path"]),
            children=_with_kinds(n["children"]),
        )
        for n in nodes
    ]


@router.get("/categories")
async def category_tree(session: DB, user: CurrentUser) -> list[CategoryNode]:
    """The default category tree merged with the shop's own paths."""
    paths = await service.shop_categories(session, shop_id=user.shop_id)
    return _with_kinds(categories.tree(paths))


@router.post("/check")
async def check_text(body: CheckBody, session: DB, user: CurrentUser) -> CheckRead:
    """Lint and structure of a wording being typed (nothing is saved)."""
    rule_set = await rules.shop_rules(session, shop_id=user.shop_id)
    check = service.check_text(
        body.text,
        category=service.clean_category(body.category),
        role=service.lint_role(user.role),
        rule_set=rule_set,
    )
    public = check.public()
    return CheckRead(
        kind=categories.category_kind(body.category),
        blocked=public["blocked"],
        findings=public["findings"],
        structure=public["structure"],
        unknown_variables=[
            v for v in service.answer_variables(body.text) if v not in service.KNOWN_VARIABLES
        ],
    )


@router.get("/orders")
async def preview_orders(
    session: DB, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[OrderOption]:
    """The shop's newest orders, for the preview's order picker."""
    out = []
    for order, name in await service.recent_orders(session, shop_id=user.shop_id, limit=limit):
        shipment = commerce.latest_shipment(order)
        out.append(
            OrderOption(
                order_no=order.order_no,
                customer_name=name or "",
                status=commerce.order_status_label(order.status),
                carrier=shipment.carrier if shipment else "",
                tracking_no=shipment.tracking_no if shipment else "",
            )
        )
    return out


@router.post("/preview")
async def preview(body: PreviewBody, session: DB, user: CurrentUser) -> PreviewRead:
    """An answer filled with a demo order's values, as the bot would send it."""
    if body.answer is not None:
        template = body.answer
    elif body.script_id is not None:
        script = await service.access_script(session, user, body.script_id)
        texts = {(c, v): t for c, v, t in service.answer_texts(script)}
        found = texts.get((str(body.channel), body.variant))
        if found is None:
            raise NotFound(f"the script has no {body.channel}/{body.variant} wording")
        template = found
    else:
        raise service.InvalidInput("give answer or script_id", code="preview_source")
    result = await service.preview_answer(
        session, shop_id=user.shop_id, template=template, order_no=body.order_no
    )
    return PreviewRead(**result)


@router.get("/lint-rules")
async def get_lint_rules(session: DB, user: Supervisor) -> LintSettingsRead:
    settings = await rules.lint_settings(session, shop_id=user.shop_id)
    return LintSettingsRead(**rules.describe(settings))


@router.put("/lint-rules")
async def put_lint_rules(
    request: Request, body: LintSettingsBody, session: DB, user: Admin
) -> LintSettingsRead:
    """Replaces the shop's rule adjustments (severity per rule incl. off, extra phrases,
    compensation limits per role in cents); audited."""
    cleaned = await rules.update_settings(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        raw=body.model_dump(exclude_none=True),
    )
    return LintSettingsRead(**rules.describe(cleaned))


@router.get("/{script_id}")
async def get_script(script_id: Id, session: DB, user: CurrentUser) -> ScriptDetail:
    script = await service.access_script(session, user, script_id)
    return await script_detail(session, script, user.role)


@router.post("", status_code=201)
async def create_script(
    request: Request, body: ScriptCreate, session: DB, user: CurrentUser
) -> ScriptDetail:
    """Any staff member creates a draft; `publish: true` needs a supervisor or admin."""
    if body.publish and user.role not in MANAGERS:
        raise Forbidden("only supervisors and admins publish")
    actor = user_actor(request, user)
    script = await service.create_script(
        session,
        shop_id=user.shop_id,
        actor=actor,
        title=body.title,
        category=body.category,
        answer=body.answer,
        questions=body.questions,
        answers=_answers(body.answers),
        triggers=body.triggers,
        bot_enabled=body.bot_enabled,
    )
    if body.publish:
        await service.publish_checked(
            session, script=script, actor=actor, role=service.lint_role(user.role)
        )
    return await script_detail(session, script, user.role)


@router.patch("/{script_id}")
async def update_script(
    request: Request, script_id: Id, body: ScriptUpdate, session: DB, user: CurrentUser
) -> ScriptDetail:
    """Saves the working copy (a draft may be saved with blocking findings; `checks` lists
    them). A published script becomes a draft while its published version keeps serving."""
    script = await service.access_script(session, user, script_id)
    await service.update_script(
        session,
        script=script,
        actor=user_actor(request, user),
        title=body.title,
        category=body.category,
        answer=body.answer,
        questions=body.questions,
        answers=_answers(body.answers),
        triggers=body.triggers,
        bot_enabled=body.bot_enabled,
    )
    return await script_detail(session, script, user.role)


@router.post("/{script_id}/submit")
async def submit_script(
    request: Request, script_id: Id, session: DB, user: CurrentUser
) -> ScriptDetail:
    script = await service.access_script(session, user, script_id)
    await service.submit_for_review(session, script=script, actor=user_actor(request, user))
    return await script_detail(session, script, user.role)


@router.post("/{script_id}/return")
async def return_script(
    request: Request, script_id: Id, session: DB, user: Supervisor
) -> ScriptDetail:
    """A reviewer sends a script in review back to draft."""
    script = await service.access_script(session, user, script_id)
    await service.return_to_draft(session, script=script, actor=user_actor(request, user))
    return await script_detail(session, script, user.role)


@router.post("/{script_id}/publish", response_model=None)
async def publish_script(
    request: Request,
    script_id: Id,
    session: DB,
    user: Supervisor,
    body: PublishBody | None = None,
) -> ScriptDetail | JSONResponse:
    """422 `lint_blocked` with the `checks` of the blocked wordings when publishing is refused."""
    script = await service.access_script(session, user, script_id)
    try:
        await service.publish_checked(
            session,
            script=script,
            actor=user_actor(request, user),
            role=service.lint_role(user.role),
            note=body.note if body else "",
        )
    except service.LintBlocked as exc:  # nothing changed
        return JSONResponse(
            status_code=exc.status_code,
            content={
                "error": exc.code,
                "message": exc.message,
                "checks": [c.public() for c in exc.checks],
            },
        )
    return await script_detail(session, script, user.role)


@router.post("/{script_id}/unpublish")
async def unpublish_script(
    request: Request, script_id: Id, session: DB, user: Supervisor
) -> ScriptDetail:
    script = await service.access_script(session, user, script_id)
    await service.unpublish_script(session, script=script, actor=user_actor(request, user))
    return await script_detail(session, script, user.role)


@router.delete("/{script_id}", status_code=204)
async def delete_script(request: Request, script_id: Id, session: DB, user: Supervisor) -> Response:
    """Retires the script (kept for past bot decisions, gone from the library)."""
    script = await service.access_script(session, user, script_id)
    await service.delete_script(session, script=script, actor=user_actor(request, user))
    return Response(status_code=204)


@router.get("/{script_id}/versions")
async def list_versions(script_id: Id, session: DB, user: CurrentUser) -> list[VersionRead]:
    script = await service.access_script(session, user, script_id)
    return [VersionRead(**v) for v in await versions.history(session, script=script)]


@router.get("/{script_id}/versions/{version}")
async def get_version(script_id: Id, version: Id, session: DB, user: CurrentUser) -> VersionDetail:
    script = await service.access_script(session, user, script_id)
    for v in await versions.history(session, script=script):
        if v["version"] == version:
            return VersionDetail(**v)
    raise NotFound(f"version {version} not found")


@router.get("/{script_id}/diff")
async def diff_versions(
    script_id: Id,
    session: DB,
    user: CurrentUser,
    old: Annotated[int, Query(ge=1, le=INT64_MAX)],
    new: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> DiffRead:
    """Version `old` against version `new`, or against the working copy when `new` is left out."""
    script = await service.access_script(session, user, script_id)
    fields = await versions.diff(session, script=script, old=old, new=new)
    return DiffRead(old=old, new=new, fields=fields)


@router.post("/{script_id}/rollback")
async def rollback_script(
    request: Request, script_id: Id, body: RollbackBody, session: DB, user: Supervisor
) -> ScriptDetail:
    """Serves an old version again, published as a new version."""
    script = await service.access_script(session, user, script_id)
    await versions.rollback(
        session, script=script, actor=user_actor(request, user), version=body.version
    )
    return await script_detail(session, script, user.role)
