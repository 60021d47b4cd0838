"""Script library admin pages (admins and supervisors): search, edit with variants one per
line, publish/unpublish, delete, and a box to try the bot on a sentence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from xiaoer.errors import DomainError, InvalidInput
from xiaoer.knowledge import service
from xiaoer.knowledge.models import Script, ScriptStatus
from xiaoer.web.deps import DB, Supervisor, user_actor
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
NOTICES = ("created", "updated", "published", "unpublished", "deleted")
# Service errors shown on the form in the page's language.
_ERROR_KEYS = {
    "title_required": "knowledge.error_title",
    "answer_required": "knowledge.error_answer",
    "questions_required": "knowledge.error_questions",
}


def _t(request: Request, key: str, **params: object) -> str:
    locale = request_locale(request, request.app.state.settings.default_locale)
    return translate(locale, key, **params)


def _error_text(request: Request, exc: DomainError) -> str:
    if isinstance(exc, service.UnknownVariable):
        names = " ".join("{" + n + "}" for n in exc.names)
        return _t(request, "knowledge.error_variable", names=names)
    key = _ERROR_KEYS.get(exc.code)
    return _t(request, key) if key else exc.message


def _status_param(raw: str) -> ScriptStatus | None:
    return ScriptStatus(raw) if raw in (ScriptStatus.draft, ScriptStatus.published) else None


@router.get("/admin/scripts")
async def scripts_page(
    request: Request,
    session: DB,
    user: Supervisor,
    q: str = "",
    status: str = "",
    page: int = 1,
) -> Response:
    q = q.strip()[:200]
    page = max(1, min(page, 10_000))
    items, total = await service.list_scripts(
        session,
        shop_id=user.shop_id,
        q=q,
        status=_status_param(status),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    notice = request.query_params.get("notice", "")
    return render(
        request,
        "knowledge/scripts.html",
        {
            "scripts": items,
            "total": total,
            "q": q,
            "status": status if _status_param(status) else "",
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "notice": notice if notice in NOTICES else "",
        },
    )


def _form_page(
    request: Request,
    *,
    script: Script | None,
    form: dict[str, str],
    error: str = "",
    status_code: int = 200,
) -> Response:
    notice = request.query_params.get("notice", "")
    return render(
        request,
        "knowledge/script_form.html",
        {
            "script": script,
            "form": form,
            "error": error,
            "variables": service.variable_help(),
            "notice": notice if notice in NOTICES else "",
        },
        status_code,
    )


def _form_of(script: Script) -> dict[str, str]:
    return {
        "title": script.title,
        "category": script.category,
        "answer": script.answer,
        "questions": "\n".join(q.text for q in script.questions),
    }


@router.get("/admin/scripts/new")
async def new_script_page(request: Request, user: Supervisor) -> Response:
    return _form_page(request, script=None, form={"category": "", "questions": ""})


FormText = Annotated[str, Form(max_length=4000)]
FormLines = Annotated[str, Form(max_length=60_000)]


@router.post("/admin/scripts/new")
async def create_script_form(
    request: Request,
    session: DB,
    user: Supervisor,
    title: FormText = "",
    category: FormText = "",
    answer: FormText = "",
    questions: FormLines = "",
    publish: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"title": title, "category": category, "answer": answer, "questions": questions}
    try:
        script = await service.create_script(
            session,
            shop_id=user.shop_id,
            actor=user_actor(request, user),
            title=title,
            category=category,
            answer=answer,
            questions=questions.splitlines(),
            publish=bool(publish),
        )
    except InvalidInput as exc:
        return _form_page(
            request, script=None, form=form, error=_error_text(request, exc), status_code=422
        )
    return RedirectResponse(f"/admin/scripts/{script.id}?notice=created", status_code=303)


@router.get("/admin/scripts/{script_id}")
async def edit_script_page(
    request: Request, script_id: int, session: DB, user: Supervisor
) -> Response:
    script = await service.access_script(session, user, script_id)
    return _form_page(request, script=script, form=_form_of(script))


@router.post("/admin/scripts/{script_id}")
async def update_script_form(
    request: Request,
    script_id: int,
    session: DB,
    user: Supervisor,
    title: FormText = "",
    category: FormText = "",
    answer: FormText = "",
    questions: FormLines = "",
) -> Response:
    script = await service.access_script(session, user, script_id)
    form = {"title": title, "category": category, "answer": answer, "questions": questions}
    try:
        await service.update_script(
            session,
            script=script,
            actor=user_actor(request, user),
            title=title,
            category=category,
            answer=answer,
            questions=questions.splitlines(),
        )
    except InvalidInput as exc:  # the service changed nothing
        return _form_page(
            request, script=script, form=form, error=_error_text(request, exc), status_code=422
        )
    return RedirectResponse(f"/admin/scripts/{script.id}?notice=updated", status_code=303)


@router.post("/admin/scripts/{script_id}/{action}")
async def script_action_form(
    request: Request,
    script_id: int,
    action: str,
    session: DB,
    user: Supervisor,
    back: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """publish / unpublish / delete; `back=list` returns to the list instead of the form."""
    script = await service.access_script(session, user, script_id)
    actor = user_actor(request, user)
    if action == "publish":
        await service.publish_script(session, script=script, actor=actor)
        notice = "published"
    elif action == "unpublish":
        await service.unpublish_script(session, script=script, actor=actor)
        notice = "unpublished"
    elif action == "delete":
        await service.delete_script(session, script=script, actor=actor)
        return RedirectResponse("/admin/scripts?notice=deleted", status_code=303)
    else:
        raise InvalidInput("unknown action")
    if back == "list":
        return RedirectResponse(f"/admin/scripts?notice={notice}", status_code=303)
    return RedirectResponse(f"/admin/scripts/{script.id}?notice={notice}", status_code=303)


@router.post("/admin/scripts-preview")
async def preview_fragment(
    request: Request,
    session: DB,
    user: Supervisor,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """htmx: the bot's decision for `text`, as an HTML fragment."""
    from xiaoer.bot import service as bot

    decision = None
    title = None
    if text.strip():
        decision = await bot.preview(
            session, registry=request.app.state.bot, shop_id=user.shop_id, text=text
        )
        title = decision.script_title
    return render(
        request, "knowledge/_preview.html", {"decision": decision, "title": title, "text": text}
    )
