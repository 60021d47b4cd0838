"""The script library (话术库): create, edit, publish, unpublish and delete answer scripts.

Every change is audited with before/after and touches `Script.updated_at`, which is what
`library_version` reads: the bot retrains a shop's matcher when that value changes. Deleting
retires a script (bot decisions keep pointing at it); retired scripts are invisible here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.commerce import service as commerce
from xiaoer.commerce.models import Order
from xiaoer.customers.models import Customer
from xiaoer.errors import Conflict, InvalidInput, NotFound
from xiaoer.knowledge import compliance, rules, structure, variables
from xiaoer.knowledge.categories import category_kind
from xiaoer.knowledge.library import CHANNELS, VARIANTS, version_content
from xiaoer.knowledge.models import (
    Channel,
    Script,
    ScriptAnswer,
    ScriptQuestion,
    ScriptStatus,
    ScriptVersion,
)
from xiaoer.knowledge.variables import render_answer
from xiaoer.shops import service as shops

KNOWN_VARIABLES: tuple[str, ...] = variables.KNOWN_VARIABLES
MAX_TITLE = 200
MAX_CATEGORY = 100
MAX_ANSWER = 4000
MAX_QUESTION = 500
MAX_QUESTIONS = 100
_VARIABLE = re.compile(r"\{([^{}\n]*)\}")


class UnknownVariable(InvalidInput):
    """An answer uses `{names}` that no order or customer fills."""

    def __init__(self, names: list[str]) -> None:
        shown = ", ".join("{" + v + "}" for v in names)
        known = ", ".join("{" + v + "}" for v in KNOWN_VARIABLES)
        super().__init__(
            f"unknown variable {shown}; use one of {known}",
            code="unknown_variable",
            key="unknown_variable",
            variables=shown,
            known=known,
        )
        self.names = names


def answer_variables(answer: str) -> list[str]:
    """Names in `{…}` placeholders, in order of first use."""
    seen: dict[str, None] = {}
    for name in _VARIABLE.findall(answer):
        seen.setdefault(name.strip(), None)
    return list(seen)


def variable_help() -> list[dict[str, str]]:
    """Every known variable: name, label, type, source and an example value."""
    return [v.public() for v in variables.VARIABLES]


def clean_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput("title is required", code="title_required")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"title is longer than {MAX_TITLE} characters")
    return title


def clean_category(category: str) -> str:
    category = "/".join(p.strip() for p in category.strip().split("/") if p.strip())
    if len(category) > MAX_CATEGORY:
        raise InvalidInput(f"category is longer than {MAX_CATEGORY} characters")
    return category


def clean_answer(answer: str) -> str:
    answer = answer.strip()
    if not answer:
        raise InvalidInput("answer is required", code="answer_required")
    if len(answer) > MAX_ANSWER:
        raise InvalidInput(f"answer is longer than {MAX_ANSWER} characters")
    unknown = variables.unknown(answer_variables(answer))
    if unknown:
        raise UnknownVariable(unknown)
    return answer


def clean_questions(questions: Iterable[str]) -> list[str]:
    cleaned: dict[str, None] = {}
    for raw in questions:
        text = " ".join(str(raw).split())
        if not text:
            continue
        if len(text) > MAX_QUESTION:
            raise InvalidInput(f"a question variant is longer than {MAX_QUESTION} characters")
        cleaned.setdefault(text, None)
    if not cleaned:
        raise InvalidInput("at least one question variant is required", code="questions_required")
    if len(cleaned) > MAX_QUESTIONS:
        raise InvalidInput(f"at most {MAX_QUESTIONS} question variants per script")
    return list(cleaned)


def snapshot(script: Script) -> dict[str, Any]:
    """The audited state of a script: its content plus where it stands in its lifecycle."""
    return {
        **version_content(script),
        "status": str(script.status),
        "published_version": script.published_version,
        "ab_split": script.ab_split,
    }


AnswerVariants = Mapping[tuple[str, str], str | None]
TRIGGER_KEYS: tuple[str, ...] = ("intents", "keywords", "customer_tags", "channels", "emotions")
EMOTIONS: tuple[str, ...] = (
    "negative",
    "anger",
    "anxiety",
    "disappointment",
    "neutral",
    "positive",
)
MAX_TRIGGER_ITEMS = 50


def clean_answers(answers: AnswerVariants) -> dict[tuple[str, str], str | None]:
    """Channel wordings and B variants; an empty body (None) removes that variant. (im, A) is
    the default answer and is set through `answer`."""
    cleaned: dict[tuple[str, str], str | None] = {}
    for (channel, variant), body in answers.items():
        if channel not in CHANNELS:
            raise InvalidInput(
                f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}",
                code="unknown_channel",
            )
        if variant not in VARIANTS:
            raise InvalidInput("an answer variant is A or B", code="unknown_variant")
        if channel == "im" and variant == "A":
            raise InvalidInput("the IM answer A is the script's main answer")
        cleaned[(channel, variant)] = clean_answer(body) if body and body.strip() else None
    return cleaned


def clean_triggers(triggers: Mapping[str, Any]) -> dict[str, list[str]]:
    cleaned: dict[str, list[str]] = {}
    for key, raw in triggers.items():
        if key not in TRIGGER_KEYS:
            raise InvalidInput(
                f"unknown trigger {key!r}; use one of {', '.join(TRIGGER_KEYS)}",
                code="unknown_trigger",
            )
        items = [raw] if isinstance(raw, str) else list(raw or [])
        values: dict[str, None] = {}
        for item in items:
            for part in re.split(r"[,，;；\n]", str(item)):
                if part.strip():
                    values.setdefault(part.strip()[:100], None)
        if len(values) > MAX_TRIGGER_ITEMS:
            raise InvalidInput(f"at most {MAX_TRIGGER_ITEMS} {key} per script")
        allowed = {"channels": CHANNELS, "emotions": EMOTIONS}.get(key)
        bad = [v for v in values if allowed is not None and v not in allowed]
        if bad:
            raise InvalidInput(
                f"unknown {key[:-1]} {bad[0]!r}; use one of {', '.join(allowed or ())}",
                code="unknown_trigger_value",
            )
        if values:
            cleaned[key] = list(values)
    return cleaned


def _apply_answers(
    script: Script, wanted: dict[tuple[str, str], str | None], replace: bool
) -> None:
    """Sets the given variants (None removes one); with `replace`, variants not given go too."""
    current = {(str(a.channel), a.variant): a for a in script.answers}
    keep: list[ScriptAnswer] = []
    for key, row in current.items():
        if key in wanted:
            body = wanted[key]
            if body is not None:
                row.body = body
                keep.append(row)
        elif not replace:
            keep.append(row)
    for key, body in wanted.items():
        if key not in current and body is not None:
            keep.append(ScriptAnswer(channel=Channel(key[0]), variant=key[1], body=body))
    script.answers = keep


async def _record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    script: Script,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    if before is not None and after is not None:
        before, after = audit.diff(before, after)
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="script",
        entity_id=script.id,
        before=before,
        after=after,
        shop_id=script.shop_id,
    )


def _search(query: Select[Any], q: str) -> Select[Any]:
    like = f"%{q.strip().lower()}%"
    in_questions = select(ScriptQuestion.script_id).where(
        func.lower(ScriptQuestion.text).like(like)
    )
    return query.where(
        or_(
            func.lower(Script.title).like(like),
            func.lower(Script.answer).like(like),
            func.lower(Script.category).like(like),
            Script.id.in_(in_questions),
        )
    )


async def list_scripts(
    session: AsyncSession,
    *,
    shop_id: int,
    q: str = "",
    status: ScriptStatus | None = None,
    category: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Script], int]:
    """(page, total) of the shop's scripts, newest change first; `q` searches title, answer,
    category and question variants."""
    query = select(Script).where(Script.shop_id == shop_id, Script.status != ScriptStatus.retired)
    if q.strip():
        query = _search(query, q)
    if status is not None:
        query = query.where(Script.status == status)
    if category.strip():
        query = query.where(Script.category.startswith(category.strip(), autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = await session.scalars(
        query.order_by(Script.category, Script.id).limit(limit).offset(offset)
    )
    return list(page), total


async def get_scripts(
    session: AsyncSession, *, shop_id: int, script_ids: Sequence[int]
) -> dict[int, Script]:
    """Scripts by id (any status), for rendering stored decisions and suggestions."""
    if not script_ids:
        return {}
    result = await session.scalars(
        select(Script).where(Script.shop_id == shop_id, Script.id.in_(list(script_ids)))
    )
    return {s.id: s for s in result}


async def access_script(session: AsyncSession, user: User, script_id: int) -> Script:
    """The only permission-checked fetch of a user-supplied script id."""
    script = await session.get(Script, script_id)
    if script is None or script.shop_id != user.shop_id or script.status == ScriptStatus.retired:
        raise NotFound("script not found")
    return script


async def create_script(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    title: str,
    answer: str,
    questions: Iterable[str],
    category: str = "",
    answers: AnswerVariants | None = None,
    triggers: Mapping[str, Any] | None = None,
    bot_enabled: bool = True,
    publish: bool = False,
) -> Script:
    """A new draft (published at once with `publish`, as version 1). `bot_enabled=False` makes
    it an agents-only script: the bot never answers with it."""
    script = Script(
        shop_id=shop_id,
        title=clean_title(title),
        category=clean_category(category),
        answer=clean_answer(answer),
        triggers=clean_triggers(triggers or {}),
        bot_enabled=bool(bot_enabled),
        status=ScriptStatus.draft,
        updated_at=clock.now(),
        questions=[ScriptQuestion(text=t) for t in clean_questions(questions)],
        answers=[
            ScriptAnswer(channel=Channel(c), variant=v, body=b)
            for (c, v), b in clean_answers(answers or {}).items()
            if b is not None
        ],
    )
    session.add(script)
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="script.created",
        script=script,
        before=None,
        after=snapshot(script),
    )
    if publish:
        await publish_script(session, script=script, actor=actor)
    return script


async def update_script(
    session: AsyncSession,
    *,
    script: Script,
    actor: Actor,
    title: str | None = None,
    category: str | None = None,
    answer: str | None = None,
    questions: Iterable[str] | None = None,
    answers: AnswerVariants | None = None,
    replace_answers: bool = False,
    triggers: Mapping[str, Any] | None = None,
    bot_enabled: bool | None = None,
) -> Script:
    """Changes the given fields of the working copy (None: unchanged); question variants are
    replaced as a whole list, answer variants one by one (all of them with `replace_answers`).
    Everything is validated before anything changes, so an invalid field leaves the script
    untouched.

    A changed published script becomes a draft again; its published version keeps serving
    until the draft is published."""
    before = snapshot(script)
    new_title = clean_title(title) if title is not None else None
    new_category = clean_category(category) if category is not None else None
    new_answer = clean_answer(answer) if answer is not None else None
    wanted = clean_questions(questions) if questions is not None else None
    new_answers = clean_answers(answers) if answers is not None else None
    new_triggers = clean_triggers(triggers) if triggers is not None else None
    if new_title is not None:
        script.title = new_title
    if new_category is not None:
        script.category = new_category
    if new_answer is not None:
        script.answer = new_answer
    if wanted is not None and wanted != [q.text for q in script.questions]:
        kept = {q.text: q for q in script.questions}
        script.questions = [kept.get(t) or ScriptQuestion(text=t) for t in wanted]
    if new_answers is not None:
        _apply_answers(script, new_answers, replace_answers)
    if new_triggers is not None:
        script.triggers = new_triggers
    if bot_enabled is not None:
        # Versioned content like the rest: a published script becomes a draft below.
        script.bot_enabled = bool(bot_enabled)
    after = snapshot(script)
    if after != before:
        if script.status in (ScriptStatus.published, ScriptStatus.review):
            script.status = ScriptStatus.draft
            after = snapshot(script)
        script.updated_at = clock.now()
        await session.flush()
        await _record(
            session,
            actor=actor,
            action="script.updated",
            script=script,
            before=before,
            after=after,
        )
    return script


async def _set_status(
    session: AsyncSession, *, script: Script, actor: Actor, status: ScriptStatus, action: str
) -> Script:
    if script.status == status:
        return script
    before = snapshot(script)
    script.status = status
    script.updated_at = clock.now()
    await session.flush()
    await _record(
        session, actor=actor, action=action, script=script, before=before, after=snapshot(script)
    )
    return script


async def submit_for_review(session: AsyncSession, *, script: Script, actor: Actor) -> Script:
    """An agent or supervisor asks for the working copy to be published."""
    if script.status != ScriptStatus.draft:
        raise Conflict("only a draft can be submitted for review", code="not_a_draft")
    return await _set_status(
        session, script=script, actor=actor, status=ScriptStatus.review, action="script.submitted"
    )


async def return_to_draft(session: AsyncSession, *, script: Script, actor: Actor) -> Script:
    """A reviewer sends the working copy back to its author."""
    if script.status != ScriptStatus.review:
        raise Conflict("the script is not in review", code="not_in_review")
    return await _set_status(
        session, script=script, actor=actor, status=ScriptStatus.draft, action="script.rejected"
    )


async def latest_version(session: AsyncSession, *, script_id: int) -> ScriptVersion | None:
    return await session.scalar(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script_id)
        .order_by(ScriptVersion.version.desc())
        .limit(1)
    )


async def publish_script(
    session: AsyncSession, *, script: Script, actor: Actor, note: str = ""
) -> Script:
    """Freezes the working copy as the next version and serves it (the bot retrains on its next
    message). Publishing unchanged content re-serves the latest version instead of copying it."""
    before = snapshot(script)
    content = version_content(script)
    latest = await latest_version(session, script_id=script.id)
    if latest is not None and latest.content == content:
        version = latest
    else:
        version = ScriptVersion(
            script_id=script.id,
            version=(latest.version + 1) if latest is not None else 1,
            content=content,
            published_by_id=actor.id if actor.type == "user" else None,
            note=note[:200],
        )
        session.add(version)
        await session.flush()
    if script.status == ScriptStatus.published and script.published_version == version.version:
        return script
    now = clock.now()
    script.status = ScriptStatus.published
    script.published_version = version.version
    script.published_at = now
    script.updated_at = now
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="script.published",
        script=script,
        before=before,
        after=snapshot(script),
    )
    return script


async def unpublish_script(session: AsyncSession, *, script: Script, actor: Actor) -> Script:
    """Withdraws the script from service; its versions are kept."""
    if script.published_version is None and script.status == ScriptStatus.draft:
        return script
    before = snapshot(script)
    now = clock.now()
    script.status = ScriptStatus.draft
    script.published_version = None
    script.published_at = now
    script.updated_at = now
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="script.unpublished",
        script=script,
        before=before,
        after=snapshot(script),
    )
    return script


async def delete_script(session: AsyncSession, *, script: Script, actor: Actor) -> None:
    """Retires the script: gone from the library and the bot, kept for past bot decisions."""
    if script.status == ScriptStatus.retired:
        return
    script.published_at = clock.now()
    await _set_status(
        session, script=script, actor=actor, status=ScriptStatus.retired, action="script.deleted"
    )


# ---------------------------------------------------------------------------------------------
# Compliance and structure of a script's answers


def lint_role(user_role: str) -> str:
    """The compensation-limit role of a staff member: admins write with supervisor rights."""
    return "agent" if str(user_role) == "agent" else "supervisor"


def answer_texts(script: Script) -> list[tuple[str, str, str]]:
    """(channel, variant, body) of every wording, the default (im, A) first."""
    others = sorted(
        ((str(a.channel), a.variant, a.body) for a in script.answers),
        key=lambda t: (CHANNELS.index(t[0]), t[1]),
    )
    return [("im", "A", script.answer), *others]


@dataclass(frozen=True)
class AnswerCheck:
    """The lint findings and structure parts of one wording."""

    channel: str
    variant: str
    body: str
    result: compliance.LintResult
    parts: list[structure.Part]

    @property
    def blocked(self) -> bool:
        return self.result.blocked

    def public(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "variant": self.variant,
            "blocked": self.result.blocked,
            "findings": [f.public() for f in self.result.findings],
            "structure": [p.public() for p in self.parts],
        }


def check_text(
    body: str,
    *,
    category: str | None,
    role: str,
    rule_set: Sequence[compliance.Rule],
    channel: str = "im",
    variant: str = "A",
) -> AnswerCheck:
    kind = category_kind(category)
    return AnswerCheck(
        channel=channel,
        variant=variant,
        body=body,
        result=compliance.lint(body, category=kind, role=role, rules=rule_set),
        parts=structure.analyse(body, kind),
    )


async def check_script(session: AsyncSession, *, script: Script, role: str) -> list[AnswerCheck]:
    """Every wording of the working copy linted with the shop's rules, as `role` would send it."""
    rule_set = await rules.shop_rules(session, shop_id=script.shop_id)
    return [
        check_text(
            body, category=script.category, role=role, rule_set=rule_set, channel=c, variant=v
        )
        for c, v, body in answer_texts(script)
    ]


class LintBlocked(InvalidInput):
    """Publishing refused: some wording has a blocking compliance finding."""

    def __init__(self, checks: list[AnswerCheck]) -> None:
        lines = []
        for check in checks:
            for f in check.result.findings:
                if f.severity != "block":
                    continue
                where = f"“{check.body[f.start : f.end]}”" if f.end > f.start else "—"
                lines.append(f"[{check.channel}/{check.variant}] {f.rule} {where}: {f.message}")
        super().__init__(
            "cannot publish, blocking compliance findings: " + "; ".join(lines),
            code="lint_blocked",
            key="publish_blocked",
            details="; ".join(lines),
        )
        self.checks = checks


async def publish_checked(
    session: AsyncSession, *, script: Script, actor: Actor, role: str, note: str = ""
) -> Script:
    """Publishing from the editor and the API: refused (nothing changes) while any wording has
    a blocking finding under the shop's rules."""
    blocked = [c for c in await check_script(session, script=script, role=role) if c.blocked]
    if blocked:
        raise LintBlocked(blocked)
    return await publish_script(session, script=script, actor=actor, note=note)


# ---------------------------------------------------------------------------------------------
# Editor helpers: the shop's categories, demo orders and the preview


async def shop_categories(session: AsyncSession, *, shop_id: int) -> list[str]:
    """Category paths in use by the shop's live scripts."""
    rows = await session.scalars(
        select(Script.category)
        .where(Script.shop_id == shop_id, Script.status != ScriptStatus.retired)
        .distinct()
    )
    return sorted(c for c in rows if c)


async def recent_orders(session: AsyncSession, *, shop_id: int, limit: int = 20) -> list[Any]:
    """Demo orders for the preview's order picker, with their customer's name: the newest order
    of each status first (so every kind of order can be tried), then the newest others."""

    def newest() -> Any:
        return (
            select(Order, Customer.name)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.shop_id == shop_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
        )

    statuses = await session.scalars(
        select(Order.status).where(Order.shop_id == shop_id).distinct().order_by(Order.status)
    )
    picked: dict[int, tuple[Any, str]] = {}
    for status in list(statuses)[:limit]:
        row = (await session.execute(newest().where(Order.status == status).limit(1))).first()
        if row is not None:
            picked[row[0].id] = (row[0], row[1])
    for order, name in await session.execute(newest().limit(limit)):
        if len(picked) >= limit:
            break
        picked.setdefault(order.id, (order, name))
    return list(picked.values())


async def preview_answer(
    session: AsyncSession, *, shop_id: int, template: str, order_no: str | None = None
) -> dict[str, Any]:
    """`template` filled as the bot fills it, with the values of the shop's order `order_no`;
    a value that stays unknown (no order chosen) shows as 【label】."""
    values: dict[str, str] = {}
    order = None
    if order_no and order_no.strip():
        order = await commerce.find_order(session, shop_id=shop_id, order_no=order_no)
        if order is None:
            raise NotFound(f"order {order_no.strip()} not found")
        tz = await shops.shop_timezone(session, shop_id=shop_id)
        values.update(commerce.order_variables(order, tz))
        customer = await session.get(Customer, order.customer_id)
        values["customer_name"] = (customer.name if customer is not None else "") or "亲"
    used = answer_variables(template)
    return {
        "text": render_answer(template, values, placeholder=True),
        "order_no": order.order_no if order is not None else None,
        "variables": used,
        "missing": [name for name in used if name not in values],
    }
