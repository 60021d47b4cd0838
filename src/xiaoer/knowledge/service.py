"""The script library (话术库): create, edit, publish, unpublish and delete answer scripts.

Every change is audited with before/after and touches `Script.updated_at`, which is what
`library_version` reads: the bot retrains a shop's matcher when that value changes. Deleting
retires a script (bot decisions keep pointing at it); retired scripts are invisible here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.commerce.service import CUSTOMER_VARIABLES, ORDER_VARIABLES, VARIABLE_LABELS
from xiaoer.db import utcnow
from xiaoer.errors import InvalidInput, NotFound
from xiaoer.knowledge.models import Script, ScriptQuestion, ScriptStatus

KNOWN_VARIABLES: tuple[str, ...] = ORDER_VARIABLES + CUSTOMER_VARIABLES
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
        super().__init__(f"unknown variable {shown}; use one of {known}", code="unknown_variable")
        self.names = names


def answer_variables(answer: str) -> list[str]:
    """Names in `{…}` placeholders, in order of first use."""
    seen: dict[str, None] = {}
    for name in _VARIABLE.findall(answer):
        seen.setdefault(name.strip(), None)
    return list(seen)


def variable_help() -> list[dict[str, str]]:
    return [{"name": n, "label": VARIABLE_LABELS.get(n, n)} for n in KNOWN_VARIABLES]


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
    unknown = [v for v in answer_variables(answer) if v not in KNOWN_VARIABLES]
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
    """The audited state of a script."""
    return {
        "title": script.title,
        "category": script.category,
        "answer": script.answer,
        "status": str(script.status),
        "questions": [q.text for q in script.questions],
    }


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


async def list_published(session: AsyncSession, *, shop_id: int) -> list[Script]:
    """The published scripts with their question variants (what the bot answers from)."""
    result = await session.scalars(
        select(Script)
        .where(Script.shop_id == shop_id, Script.status == ScriptStatus.published)
        .order_by(Script.id)
    )
    return list(result)


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


async def library_version(session: AsyncSession, *, shop_id: int) -> str:
    """Changes whenever the published library changes; one aggregate query on indexed columns."""
    count, id_sum, newest = (
        await session.execute(
            select(func.count(Script.id), func.sum(Script.id), func.max(Script.updated_at)).where(
                Script.shop_id == shop_id, Script.status == ScriptStatus.published
            )
        )
    ).one()
    return f"{count}:{id_sum or 0}:{newest}"


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
    publish: bool = False,
) -> Script:
    script = Script(
        shop_id=shop_id,
        title=clean_title(title),
        category=clean_category(category),
        answer=clean_answer(answer),
        status=ScriptStatus.published if publish else ScriptStatus.draft,
        updated_at=utcnow(),
        questions=[ScriptQuestion(text=t) for t in clean_questions(questions)],
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
) -> Script:
    """Changes the given fields; variants are replaced as a whole list. Everything is validated
    before anything changes, so an invalid field leaves the script untouched."""
    before = snapshot(script)
    new_title = clean_title(title) if title is not None else None
    new_category = clean_category(category) if category is not None else None
    new_answer = clean_answer(answer) if answer is not None else None
    wanted = clean_questions(questions) if questions is not None else None
    if new_title is not None:
        script.title = new_title
    if new_category is not None:
        script.category = new_category
    if new_answer is not None:
        script.answer = new_answer
    if wanted is not None and wanted != [q.text for q in script.questions]:
        kept = {q.text: q for q in script.questions}
        script.questions = [kept.get(t) or ScriptQuestion(text=t) for t in wanted]
    after = snapshot(script)
    if after != before:
        script.updated_at = utcnow()
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
    script.updated_at = utcnow()
    await session.flush()
    await _record(
        session, actor=actor, action=action, script=script, before=before, after=snapshot(script)
    )
    return script


async def publish_script(session: AsyncSession, *, script: Script, actor: Actor) -> Script:
    """Makes the script available to the bot (its matcher retrains on its next message)."""
    return await _set_status(
        session,
        script=script,
        actor=actor,
        status=ScriptStatus.published,
        action="script.published",
    )


async def unpublish_script(session: AsyncSession, *, script: Script, actor: Actor) -> Script:
    return await _set_status(
        session,
        script=script,
        actor=actor,
        status=ScriptStatus.draft,
        action="script.unpublished",
    )


async def delete_script(session: AsyncSession, *, script: Script, actor: Actor) -> None:
    """Retires the script: gone from the library and the bot, kept for past bot decisions."""
    await _set_status(
        session, script=script, actor=actor, status=ScriptStatus.retired, action="script.deleted"
    )
