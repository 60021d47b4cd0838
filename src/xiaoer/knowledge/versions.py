"""Published versions of a script: history, diff and rollback.

Every publish freezes the working copy as a numbered `ScriptVersion`; versions are never edited
or deleted. Rolling back copies an old version into the working copy and publishes it as a new
version, so the history stays linear and says who rolled back what.
"""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.errors import NotFound
from xiaoer.knowledge import service
from xiaoer.knowledge.library import version_content
from xiaoer.knowledge.models import Script, ScriptVersion

FIELDS: tuple[str, ...] = (
    "title",
    "category",
    "answer",
    "answers",
    "triggers",
    "bot_enabled",
    "questions",
)


async def list_versions(session: AsyncSession, *, script_id: int) -> list[ScriptVersion]:
    """Newest first."""
    rows = await session.scalars(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script_id)
        .order_by(ScriptVersion.version.desc())
    )
    return list(rows)


async def get_version(session: AsyncSession, *, script_id: int, version: int) -> ScriptVersion:
    row = await session.scalar(
        select(ScriptVersion).where(
            ScriptVersion.script_id == script_id, ScriptVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"version {version} not found")
    return row


def _lines(content: dict[str, Any], field: str) -> list[str]:
    value = content.get(field)
    if field == "answers":
        return [f"[{a['channel']}/{a['variant']}] {a['body']}" for a in value or []]
    if field == "triggers":
        return [f"{k}: {', '.join(v)}" for k, v in sorted((value or {}).items())]
    if field == "questions":
        return list(value or [])
    if field == "bot_enabled":
        return ["1" if value is not False else "0"]  # versions before the flag: the bot answered
    return str(value or "").splitlines() or [""]


def diff_contents(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Per changed field, the line diff as `{"field", "lines": [{"op": " "|"-"|"+", "text"}]}`."""
    out = []
    for field in FIELDS:
        a, b = _lines(old, field), _lines(new, field)
        if a == b:
            continue
        lines = []
        for line in difflib.ndiff(a, b):
            if line.startswith("? "):
                continue  # ndiff's intraline hints: not for display
            lines.append({"op": line[0], "text": line[2:]})
        out.append({"field": field, "lines": lines})
    return out


async def diff(
    session: AsyncSession, *, script: Script, old: int, new: int | None = None
) -> list[dict[str, Any]]:
    """Version `old` against version `new` (None: the current working copy)."""
    before = (await get_version(session, script_id=script.id, version=old)).content
    if new is None:
        after = version_content(script)
    else:
        after = (await get_version(session, script_id=script.id, version=new)).content
    return diff_contents(before, after)


async def rollback(session: AsyncSession, *, script: Script, actor: Actor, version: int) -> Script:
    """Serves version `version` again, as a new version."""
    old = (await get_version(session, script_id=script.id, version=version)).content
    answers = {(a["channel"], a["variant"]): a["body"] for a in old.get("answers") or []}
    await service.update_script(
        session,
        script=script,
        actor=actor,
        title=old.get("title", script.title),
        category=old.get("category", ""),
        answer=old.get("answer", script.answer),
        questions=old.get("questions") or [q.text for q in script.questions],
        answers=answers,
        replace_answers=True,
        triggers=old.get("triggers") or {},
        bot_enabled=bool(old.get("bot_enabled", True)),
    )
    return await service.publish_script(
        session, script=script, actor=actor, note=f"rollback to v{version}"
    )


async def history(session: AsyncSession, *, script: Script) -> list[dict[str, Any]]:
    """Newest first: each version with who published it and whether it is the one served."""
    rows = await session.execute(
        select(ScriptVersion, User.display_name, User.username)
        .outerjoin(User, User.id == ScriptVersion.published_by_id)
        .where(ScriptVersion.script_id == script.id)
        .order_by(ScriptVersion.version.desc())
    )
    return [
        {
            "version": v.version,
            "published_at": v.created_at,
            "published_by": (f"{display} ({username})" if display else username)
            if username
            else None,
            "note": v.note,
            "serving": v.version == script.published_version,
            "content": v.content,
        }
        for v, display, username in rows
    ]
