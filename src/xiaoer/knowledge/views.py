"""Script library pages: the list with a category tree and the review queue, the editor (channel
wordings and B variants, trigger conditions, typed variables, live lint and structure, preview
with a demo order), the lifecycle buttons, the version history with diff and rollback, and the
admins' lint rule configuration.

Every staff member may write drafts and submit them; supervisors and admins publish, return,
withdraw, delete and roll back; admins configure the lint rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from xiaoer.auth.models import User
from xiaoer.bot import service as bot
from xiaoer.bounds import INT32_MAX, Count, Id
from xiaoer.commerce import service as commerce
from xiaoer.errors import DomainError, Forbidden, InvalidInput
from xiaoer.knowledge import categories, compliance, rules, service, structure, versions
from xiaoer.knowledge.models import Script, ScriptStatus
from xiaoer.knowledge.transfer import ANSWER_COLUMNS
from xiaoer.web.deps import DB, Admin, CurrentUser, Supervisor, user_actor
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
MANAGERS = ("admin", "supervisor")
NOTICES = (
    "created",
    "updated",
    "published",
    "unpublished",
    "deleted",
    "submitted",
    "returned",
    "rolled_back",
    "rules_saved",
)
LIST_STATUSES = ("draft", "review", "published")
# The editor's wording fields: (form field, channel, variant); (im, A) is the main answer.
WORDINGS: tuple[tuple[str, str, str], ...] = (
    ("answer", "im", "A"),
    *((field, c, v) for field, (c, v) in ANSWER_COLUMNS.items()),
)
TRIGGER_TEXT = ("intents", "keywords", "customer_tags")
TRIGGER_CHOICES = {"channels": service.CHANNELS, "emotions": service.EMOTIONS}
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


def _is_manager(user: User) -> bool:
    return str(user.role) in MANAGERS


def _require_manager(user: User) -> None:
    if not _is_manager(user):
        raise Forbidden("only supervisors and admins may do this")


def _notice(request: Request) -> str:
    notice = request.query_params.get("notice", "")
    return notice if notice in NOTICES else ""


def highlight(text: str, findings: list[compliance.Finding]) -> list[dict[str, Any]]:
    """`text` cut into segments, the ones a finding points at marked with its severity and rule
    (overlapping spans: the first wins)."""
    out: list[dict[str, Any]] = []
    cursor = 0
    for f in sorted((f for f in findings if f.end > f.start), key=lambda f: f.start):
        if f.start < cursor:
            continue
        if f.start > cursor:
            out.append({"text": text[cursor : f.start], "severity": None, "rule": ""})
        out.append({"text": text[f.start : f.end], "severity": f.severity, "rule": f.rule})
        cursor = f.end
    if cursor < len(text):
        out.append({"text": text[cursor:], "severity": None, "rule": ""})
    return out


# ---------------------------------------------------------------------------------------------
# List


def _status_param(raw: str) -> ScriptStatus | None:
    return ScriptStatus(raw) if raw in LIST_STATUSES else None


def _tree_with_kinds(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **n,
            "kind": categories.category_kind(n["path"]),
            "children": _tree_with_kinds(n["children"]),
        }
        for n in nodes
    ]


async def _tree(session: DB, shop_id: Id) -> list[dict[str, Any]]:
    paths = await service.shop_categories(session, shop_id=shop_id)
    return _tree_with_kinds(categories.tree(paths))


def _paths(nodes: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for n in nodes:
        out.append(n["path"])
        out.extend(_paths(n["children"]))
    return out


@router.get("/admin/scripts")
async def scripts_page(
    request: Request,
    session: DB,
    user: CurrentUser,
    q: str = "",
    status: str = "",
    category: str = "",
    page: Annotated[int, Query(ge=1, le=INT32_MAX)] = 1,
) -> Response:
    q = q.strip()[:200]
    category = service.clean_category(category[:100]) if len(category) <= 100 else ""
    page = max(1, min(page, 10_000))
    items, total = await service.list_scripts(
        session,
        shop_id=user.shop_id,
        q=q,
        status=_status_param(status),
        category=category,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    _, in_review = await service.list_scripts(
        session, shop_id=user.shop_id, status=ScriptStatus.review, limit=1
    )
    return render(
        request,
        "knowledge/scripts.html",
        {
            "scripts": items,
            "total": total,
            "q": q,
            "status": status if _status_param(status) else "",
            "statuses": LIST_STATUSES,
            "category": category,
            "tree": await _tree(session, user.shop_id),
            "in_review": in_review,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "notice": _notice(request),
            "manager": _is_manager(user),
            "kind_of": categories.category_kind,
        },
    )


# ---------------------------------------------------------------------------------------------
# Editor


def _form_of(script: Script) -> dict[str, Any]:
    wordings = {(str(a.channel), a.variant): a.body for a in script.answers}
    triggers = script.triggers or {}
    form: dict[str, Any] = {
        "title": script.title,
        "category": script.category,
        "questions": "\n".join(q.text for q in script.questions),
        "bot_enabled": script.bot_enabled is not False,
    }
    for field, c, v in WORDINGS:
        form[field] = script.answer if field == "answer" else wordings.get((c, v), "")
    for key in TRIGGER_TEXT:
        form[key] = ", ".join(triggers.get(key) or ())
    for key in TRIGGER_CHOICES:
        form[key] = list(triggers.get(key) or ())
    return form


async def _editor(
    request: Request,
    session: DB,
    user: User,
    *,
    script: Script | None,
    form: dict[str, Any],
    error: str = "",
    blocked: list[service.AnswerCheck] | None = None,
    status_code: int = 200,
) -> Response:
    """The editor page; lint and structure are computed from the form's texts, so they match
    what is on screen (saved or not)."""
    rule_set = await rules.shop_rules(session, shop_id=user.shop_id)
    role = service.lint_role(user.role)
    category = str(form.get("category") or "")
    try:
        category = service.clean_category(category)
    except InvalidInput:
        category = ""
    kind = categories.category_kind(category)
    wordings = []
    for field, channel, variant in WORDINGS:
        body = str(form.get(field) or "")
        check = service.check_text(
            body,
            category=category,
            role=role,
            rule_set=rule_set,
            channel=channel,
            variant=variant,
        )
        wordings.append(
            {
                "field": field,
                "channel": channel,
                "variant": variant,
                "body": body,
                "findings": check.result.findings if body.strip() else [],
                "parts": check.parts if body.strip() else structure.analyse("", kind),
                "segments": highlight(body, check.result.findings) if body.strip() else [],
            }
        )
    tree = await _tree(session, user.shop_id)
    orders = await service.recent_orders(session, shop_id=user.shop_id, limit=20)
    order_options = []
    for order, name in orders:
        shipment = commerce.latest_shipment(order)
        order_options.append(
            {
                "order_no": order.order_no,
                "customer_name": name or "",
                "carrier": shipment.carrier if shipment else "",
                "status": commerce.order_status_label(order.status),
            }
        )
    return render(
        request,
        "knowledge/script_form.html",
        {
            "script": script,
            "form": form,
            "error": error,
            "blocked": blocked or [],
            "wordings": wordings,
            "kind": kind,
            "parts_of_kind": structure.PARTS,
            "category_paths": _paths(tree),
            "trigger_choices": TRIGGER_CHOICES,
            "variables": service.variable_help(),
            "orders": order_options,
            "notice": _notice(request),
            "manager": _is_manager(user),
        },
        status_code,
    )


_Text = Annotated[str, Field(max_length=4000)]
_Choices = Annotated[list[str], Field(max_length=20)]


class ScriptForm(BaseModel):
    """The editor's fields, the same for creating and editing a script."""

    title: _Text = ""
    category: _Text = ""
    questions: Annotated[str, Field(max_length=60_000)] = ""
    answer: _Text = ""
    answer_im_b: _Text = ""
    answer_phone: _Text = ""
    answer_phone_b: _Text = ""
    answer_email: _Text = ""
    answer_email_b: _Text = ""
    answer_social: _Text = ""
    answer_social_b: _Text = ""
    intents: _Text = ""
    keywords: _Text = ""
    customer_tags: _Text = ""
    channels: _Choices = []
    emotions: _Choices = []
    # A checkbox: an unchecked box sends nothing, so absent means off (unlike the JSON API).
    bot_enabled: Annotated[str, Field(max_length=10)] = ""
    publish: Annotated[str, Field(max_length=10)] = ""  # create only: save and publish

    def as_form(self) -> dict[str, Any]:
        """The values the editor re-renders with (and the service input is read from)."""
        data = self.model_dump(exclude={"publish"})
        data["bot_enabled"] = bool(self.bot_enabled)
        return data


def _answers_of(form: dict[str, Any]) -> dict[tuple[str, str], str | None]:
    return {(c, v): form.get(field) or None for field, c, v in WORDINGS if field != "answer"}


def _triggers_of(form: dict[str, Any]) -> dict[str, Any]:
    return {key: form.get(key) or [] for key in (*TRIGGER_TEXT, *TRIGGER_CHOICES)}


@router.get("/admin/scripts/new")
async def new_script_page(request: Request, session: DB, user: CurrentUser) -> Response:
    category = request.query_params.get("category", "")[:100]
    return await _editor(
        request,
        session,
        user,
        script=None,
        form={"category": category, "questions": "", "bot_enabled": True},
    )


@router.post("/admin/scripts/new")
async def create_script_form(
    request: Request,
    session: DB,
    user: CurrentUser,
    fields: Annotated[ScriptForm, Form()],
) -> Response:
    form = fields.as_form()
    title, category, answer, questions = (
        fields.title,
        fields.category,
        fields.answer,
        fields.questions,
    )
    publish = fields.publish
    if publish:
        _require_manager(user)
    actor = user_actor(request, user)
    try:
        script = await service.create_script(
            session,
            shop_id=user.shop_id,
            actor=actor,
            title=title,
            category=category,
            answer=answer,
            questions=questions.splitlines(),
            answers=_answers_of(form),
            triggers=_triggers_of(form),
            bot_enabled=form["bot_enabled"],
        )
    except InvalidInput as exc:
        return await _editor(
            request,
            session,
            user,
            script=None,
            form=form,
            error=_error_text(request, exc),
            status_code=422,
        )
    notice = "created"
    if publish:
        try:
            await service.publish_checked(
                session, script=script, actor=actor, role=service.lint_role(user.role)
            )
            notice = "published"
        except service.LintBlocked:
            pass  # saved as a draft; the editor shows the blocking findings
    return RedirectResponse(f"/admin/scripts/{script.id}?notice={notice}", status_code=303)


@router.get("/admin/scripts/lint-rules")
async def lint_rules_page(request: Request, session: DB, user: Admin) -> Response:
    settings = await rules.lint_settings(session, shop_id=user.shop_id)
    return render(
        request,
        "knowledge/lint_rules.html",
        {
            "config": rules.describe(settings),
            "notice": _notice(request),
            "error": "",
        },
    )


@router.post("/admin/scripts/lint-rules")
async def save_lint_rules(request: Request, session: DB, user: Admin) -> Response:
    """Form fields: `severity.<rule>` (default/block/warn/off), `phrases.<rule>` and
    `allowed.<rule>` (one per line), `limit.<role>` in yuan (empty = the default)."""
    form = await request.form()
    raw_rules: dict[str, dict[str, Any]] = {}
    limits: dict[str, Any] = {}
    for rule_id in rules.RULE_IDS:
        change: dict[str, Any] = {}
        severity = str(form.get(f"severity.{rule_id}") or "")[:10]
        if severity and severity != "default":
            change["severity"] = severity
        phrases = str(form.get(f"phrases.{rule_id}") or "")[:20_000]
        if phrases.strip():
            change["phrases"] = phrases.splitlines()
        allowed = str(form.get(f"allowed.{rule_id}") or "")[:20_000]
        if allowed.strip():
            change["allowed"] = allowed.splitlines()
        if change:
            raw_rules[rule_id] = change
    error = ""
    for role in compliance.ROLES:
        raw = str(form.get(f"limit.{role}") or "").strip()[:20]
        if not raw:
            continue
        try:
            yuan = float(raw)
        except ValueError:
            error = _t(request, "knowledge.rules_error_limit")
            break
        limits[role] = round(yuan * 100)
    if not error:
        try:
            await rules.update_settings(
                session,
                shop_id=user.shop_id,
                actor=user_actor(request, user),
                raw={"rules": raw_rules, "limits_cents": limits},
            )
        except InvalidInput as exc:
            error = exc.message
    if error:
        settings = await rules.lint_settings(session, shop_id=user.shop_id)
        return render(
            request,
            "knowledge/lint_rules.html",
            {"config": rules.describe(settings), "notice": "", "error": error},
            422,
        )
    return RedirectResponse("/admin/scripts/lint-rules?notice=rules_saved", status_code=303)


@router.get("/admin/scripts/{script_id}")
async def edit_script_page(
    request: Request, script_id: Id, session: DB, user: CurrentUser
) -> Response:
    script = await service.access_script(session, user, script_id)
    return await _editor(request, session, user, script=script, form=_form_of(script))


@router.post("/admin/scripts/{script_id}")
async def update_script_form(
    request: Request,
    script_id: Id,
    session: DB,
    user: CurrentUser,
    fields: Annotated[ScriptForm, Form()],
) -> Response:
    script = await service.access_script(session, user, script_id)
    form = fields.as_form()
    title, category, answer, questions = (
        fields.title,
        fields.category,
        fields.answer,
        fields.questions,
    )
    try:
        await service.update_script(
            session,
            script=script,
            actor=user_actor(request, user),
            title=title,
            category=category,
            answer=answer,
            questions=questions.splitlines(),
            answers=_answers_of(form),
            replace_answers=True,
            triggers=_triggers_of(form),
            bot_enabled=form["bot_enabled"],
        )
    except InvalidInput as exc:  # the service changed nothing
        return await _editor(
            request,
            session,
            user,
            script=script,
            form=form,
            error=_error_text(request, exc),
            status_code=422,
        )
    return RedirectResponse(f"/admin/scripts/{script.id}?notice=updated", status_code=303)


@router.get("/admin/scripts/{script_id}/versions")
async def versions_page(
    request: Request,
    script_id: Id,
    session: DB,
    user: CurrentUser,
    old: Count | None = None,
    new: str = "",
) -> Response:
    """The version history; `old` (and `new`, empty = the working copy) show a diff."""
    script = await service.access_script(session, user, script_id)
    history = await versions.history(session, script=script)
    numbers = {v["version"] for v in history}
    new_version = int(new) if new.isdigit() and int(new) in numbers else None
    diff = None
    if old is not None and old in numbers:
        diff = await versions.diff(session, script=script, old=old, new=new_version)
    return render(
        request,
        "knowledge/versions.html",
        {
            "script": script,
            "history": history,
            "old": old if old in numbers else None,
            "new": new_version,
            "diff": diff,
            "notice": _notice(request),
            "manager": _is_manager(user),
        },
    )


@router.post("/admin/scripts/{script_id}/{action}")
async def script_action_form(
    request: Request,
    script_id: Id,
    action: str,
    session: DB,
    user: CurrentUser,
    back: Annotated[str, Form(max_length=20)] = "",
    version: Annotated[int, Form(ge=0, le=INT32_MAX)] = 0,
) -> Response:
    """submit (any staff) / return / publish / unpublish / delete / rollback (managers);
    `back=list` returns to the list instead of the editor."""
    script = await service.access_script(session, user, script_id)
    actor = user_actor(request, user)
    if action != "submit":
        _require_manager(user)
    if action == "submit":
        await service.submit_for_review(session, script=script, actor=actor)
        notice = "submitted"
    elif action == "return":
        await service.return_to_draft(session, script=script, actor=actor)
        notice = "returned"
    elif action == "publish":
        try:
            await service.publish_checked(
                session, script=script, actor=actor, role=service.lint_role(user.role)
            )
        except service.LintBlocked as exc:
            return await _editor(
                request,
                session,
                user,
                script=script,
                form=_form_of(script),
                error=_t(request, "knowledge.error_blocked"),
                blocked=exc.checks,
                status_code=422,
            )
        notice = "published"
    elif action == "unpublish":
        await service.unpublish_script(session, script=script, actor=actor)
        notice = "unpublished"
    elif action == "delete":
        await service.delete_script(session, script=script, actor=actor)
        return RedirectResponse("/admin/scripts?notice=deleted", status_code=303)
    elif action == "rollback":
        previous = script.published_version
        await versions.rollback(session, script=script, actor=actor, version=version)
        diff_from = f"old={previous}&new={script.published_version}&" if previous else ""
        return RedirectResponse(
            f"/admin/scripts/{script.id}/versions?{diff_from}notice=rolled_back", status_code=303
        )
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
