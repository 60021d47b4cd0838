"""What the bot and the agent-assist panel serve: each script's *published version*.

A script's working copy may be a draft under review while its last published version keeps
answering customers; `list_published` therefore reads the version snapshots, never the working
copy. `library_version` changes whenever what is served changes (publish, rollback, withdraw,
retire, A/B split), which is what tells a process to retrain its matcher.

Answer choice: `PublishedScript.choose(channel, conversation_id)` picks the channel's wording
and, while an A/B test runs, the variant for this conversation: a stable hash of
(script, conversation), so one customer sees one variant throughout.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.knowledge.categories import category_kind
from xiaoer.knowledge.models import Channel, Script, ScriptStatus, ScriptVersion

CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
VARIANTS: tuple[str, ...] = ("A", "B")
# Conversation channels and the answer channel whose wording they use.
CONVERSATION_CHANNELS: dict[str, str] = {
    "webchat": "im",
    "im": "im",
    "api": "im",
    "phone": "phone",
    "email": "email",
    "social": "social",
}


# A customer feeling one of these is also "negative" for a script triggered on negative emotion.
NEGATIVE_EMOTIONS = frozenset({"negative", "anger", "anxiety", "disappointment"})


def answer_channel(conversation_channel: str | None) -> str:
    return CONVERSATION_CHANNELS.get(conversation_channel or "", "im")


def ab_bucket(script_id: int, conversation_id: int | None) -> float:
    """A stable number in [0, 1) per (script, conversation)."""
    key = f"{script_id}:{conversation_id if conversation_id is not None else 'preview'}"
    return (zlib.crc32(key.encode()) % 10_000) / 10_000


@dataclass(frozen=True)
class PublishedScript:
    """One script as served: its published version, detached from any session."""

    id: int
    version: int
    title: str
    category: str
    answer: str
    questions: tuple[str, ...]
    answers: dict[tuple[str, str], str] = field(default_factory=dict)
    triggers: dict[str, Any] = field(default_factory=dict)
    ab_split: float | None = None
    bot_enabled: bool = True  # False: agents only, never the bot's answer

    @property
    def kind(self) -> str | None:
        return category_kind(self.category)

    def text(self, channel: str, variant: str = "A") -> str | None:
        """The stored wording for (channel, variant); (im, A) is the default answer."""
        if channel == "im" and variant == "A":
            return self.answer
        return self.answers.get((channel, variant))

    def choose(self, channel: str = "im", conversation_id: int | None = None) -> tuple[str, str]:
        """(variant, template) for a conversation on `channel`.

        B is served to the test's share of conversations when a B wording exists for the
        channel (or, for a channel without wording of its own, the IM B wording). Otherwise the
        channel's own wording, else the default answer."""
        own_a = self.text(channel, "A")
        if self.ab_split and ab_bucket(self.id, conversation_id) < self.ab_split:
            b = self.text(channel, "B")
            if b is None and own_a is None:
                b = self.text("im", "B")
            if b is not None:
                return "B", b
        return "A", own_a if own_a is not None else self.answer

    def allows(
        self,
        *,
        channel: str | None = None,
        customer_tags: frozenset[str] | None = None,
        emotion: str | None = None,
    ) -> bool:
        """Whether the trigger conditions let this script be used in this context. Intents and
        keywords widen matching (they are question signals); tags, channels and emotions
        restrict it."""
        wanted = self.triggers
        channels = wanted.get("channels") or []
        if channels and channel is not None and channel not in channels:
            return False
        tags = wanted.get("customer_tags") or []
        if tags and not (customer_tags or frozenset()) & set(tags):
            return False
        emotions = wanted.get("emotions") or []
        if not emotions or emotion is None:
            return True
        felt = {emotion, "negative"} if emotion in NEGATIVE_EMOTIONS else {emotion}
        return bool(felt & set(emotions))


def version_content(script: Script) -> dict[str, Any]:
    """The versioned content of a script's working copy (what publishing freezes)."""
    return {
        "title": script.title,
        "category": script.category,
        "answer": script.answer,
        "answers": [
            {"channel": str(a.channel), "variant": a.variant, "body": a.body}
            for a in sorted(script.answers, key=lambda a: (str(a.channel), a.variant))
        ],
        "triggers": dict(script.triggers or {}),
        "bot_enabled": bool(script.bot_enabled is not False),
        "questions": [q.text for q in script.questions],
    }


def published_from(
    script_id: int, version: int, content: dict[str, Any], ab_split: float | None
) -> PublishedScript:
    return PublishedScript(
        id=script_id,
        version=version,
        title=content.get("title", ""),
        category=content.get("category", ""),
        answer=content.get("answer", ""),
        questions=tuple(content.get("questions") or ()),
        answers={
            (a["channel"], a.get("variant", "A")): a["body"] for a in content.get("answers") or ()
        },
        triggers=dict(content.get("triggers") or {}),
        ab_split=ab_split,
        bot_enabled=bool(content.get("bot_enabled", True)),
    )


async def served_content(session: AsyncSession, script: Script) -> dict[str, Any] | None:
    """The content of the version the bot serves, or None when nothing is published."""
    if script.published_version is None:
        return None
    return await session.scalar(
        select(ScriptVersion.content).where(
            ScriptVersion.script_id == script.id,
            ScriptVersion.version == script.published_version,
        )
    )


async def served_script(session: AsyncSession, script: Script) -> PublishedScript | None:
    """One script as served (no trained matcher needed), or None when nothing is published."""
    content = await served_content(session, script)
    if content is None or script.published_version is None:
        return None
    return published_from(script.id, script.published_version, content, script.ab_split)


_SERVED = and_(Script.status != ScriptStatus.retired, Script.published_version.is_not(None))


async def list_published(session: AsyncSession, *, shop_id: int) -> list[PublishedScript]:
    """The served version of every script in service, by script id."""
    rows = await session.execute(
        select(Script.id, Script.ab_split, ScriptVersion.version, ScriptVersion.content)
        .join(
            ScriptVersion,
            and_(
                ScriptVersion.script_id == Script.id,
                ScriptVersion.version == Script.published_version,
            ),
        )
        .where(Script.shop_id == shop_id, _SERVED)
        .order_by(Script.id)
    )
    return [published_from(sid, version, content, split) for sid, split, version, content in rows]


async def library_version(session: AsyncSession, *, shop_id: int) -> str:
    """Changes whenever what is served changes. Every such change (publish, rollback, withdraw,
    retire, A/B split) stamps `Script.published_at` with the current time, so the newest stamp
    over all the shop's scripts is the version: one index seek on (shop_id, published_at),
    cheap enough to check on every message."""
    newest = await session.scalar(
        select(func.max(Script.published_at)).where(Script.shop_id == shop_id)
    )
    return str(newest)
