"""Per-script and per-variant statistics over a period (definitions: docs/subsystems/insights.md).

Everything is aggregated in SQL: one GROUP BY over the period's script events for the counts,
and one over (script[, channel, variant], conversation) "uses" joined to conversations and
survey responses for resolution and CSAT. Python only assembles the (few) grouped rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from xiaoer.conversations.models import Conversation, ConversationStatus
from xiaoer.insights.period import Period, seconds_between
from xiaoer.knowledge.models import Script, ScriptEvent, ScriptEventKind, ScriptStatus
from xiaoer.surveys.models import SurveyResponse

# A script is "used" in a conversation when the bot answered with it or an agent sent it.
USE_KINDS = (ScriptEventKind.bot_answered, ScriptEventKind.sent)
REOPEN_WINDOW_SECONDS = 24 * 3600
SATISFIED_RATING = 4  # ratings 4 and 5 count as satisfied


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Outcomes:
    """What happened to the conversations a script (or variant) was used in."""

    conversations: int = 0
    resolved: int = 0
    rated: int = 0
    rating_sum: float = 0.0
    rating_sq: float = 0.0  # sum of squared ratings, for the A/B confidence interval
    satisfied: int = 0

    @property
    def resolution_rate(self) -> float | None:
        return _ratio(self.resolved, self.conversations)

    @property
    def csat_mean(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None

    @property
    def satisfied_share(self) -> float | None:
        return _ratio(self.satisfied, self.rated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "resolved": self.resolved,
            "resolution_rate": self.resolution_rate,
            "rated": self.rated,
            "csat_mean": self.csat_mean,
            "satisfied": self.satisfied,
            "satisfied_share": self.satisfied_share,
        }


@dataclass
class Usage:
    suggested: int = 0
    inserted: int = 0
    sent: int = 0
    edited: int = 0  # sent after the agent changed the text
    bot_answered: int = 0
    outcomes: Outcomes = field(default_factory=Outcomes)

    @property
    def edited_rate(self) -> float | None:
        return _ratio(self.edited, self.sent)

    def add(self, kind: str, edited: bool | None, n: int) -> None:
        if kind == ScriptEventKind.suggested:
            self.suggested += n
        elif kind == ScriptEventKind.inserted:
            self.inserted += n
        elif kind == ScriptEventKind.sent:
            self.sent += n
            if edited:
                self.edited += n
        elif kind == ScriptEventKind.bot_answered:
            self.bot_answered += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "suggested": self.suggested,
            "inserted": self.inserted,
            "sent": self.sent,
            "edited": self.edited,
            "edited_rate": self.edited_rate,
            "bot_answered": self.bot_answered,
            **self.outcomes.as_dict(),
        }


@dataclass
class VariantStats:
    channel: str
    variant: str
    usage: Usage

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "variant": self.variant, **self.usage.as_dict()}


@dataclass
class ScriptStats:
    script_id: int
    title: str
    category: str
    status: str
    ab_split: float | None
    usage: Usage
    variants: list[VariantStats] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "script_id": self.script_id,
            "title": self.title,
            "category": self.category,
            "status": self.status,
            "ab_split": self.ab_split,
            **self.usage.as_dict(),
            "variants": [v.as_dict() for v in self.variants],
        }


def _in_period(shop_id: int, start: dt.datetime, end: dt.datetime | None) -> list[Any]:
    conds: list[Any] = [ScriptEvent.shop_id == shop_id, ScriptEvent.created_at >= start]
    if end is not None:
        conds.append(ScriptEvent.created_at < end)
    return conds


def uses_subquery(
    *,
    shop_id: int,
    start: dt.datetime,
    end: dt.datetime | None,
    keys: Sequence[str],
    script_id: int | None = None,
) -> Subquery:
    """One row per (keys…, conversation) the script was used in, with the first use's time.
    `keys` are ScriptEvent columns: "script_id", "channel", "variant"."""
    cols = [getattr(ScriptEvent, k) for k in keys]
    conds = [
        *_in_period(shop_id, start, end),
        ScriptEvent.kind.in_(USE_KINDS),
        ScriptEvent.conversation_id.is_not(None),
    ]
    if script_id is not None:
        conds.append(ScriptEvent.script_id == script_id)
    return (
        select(*cols, ScriptEvent.conversation_id, func.min(ScriptEvent.created_at).label("first"))
        .where(*conds)
        .group_by(*cols, ScriptEvent.conversation_id)
        .subquery("uses")
    )


def resolved_condition(conv: Any, first_use: Any) -> ColumnElement[bool]:
    """Closed, no hand-off to a person after the first use, and the customer did not come back
    (another conversation of theirs started) within 24 h of the closing."""
    later = aliased(Conversation)
    came_back = exists().where(
        later.shop_id == conv.shop_id,
        later.customer_id == conv.customer_id,
        later.id != conv.id,
        later.created_at >= conv.closed_at,
        seconds_between(conv.closed_at, later.created_at) <= REOPEN_WINDOW_SECONDS,
    )
    return and_(
        conv.status == ConversationStatus.closed,
        conv.closed_at.is_not(None),
        or_(conv.queued_at.is_(None), conv.queued_at < first_use),
        ~came_back,
    )


async def outcomes_by(
    session: AsyncSession, uses: Subquery, keys: Sequence[str]
) -> dict[Any, Outcomes]:
    """Outcomes grouped by `keys` (columns of `uses`); a tuple key when there are several."""
    conv = aliased(Conversation)
    rating = SurveyResponse.rating
    group = [uses.c[k] for k in keys]
    query = (
        select(
            *group,
            func.count(),
            func.sum(case((resolved_condition(conv, uses.c.first), 1), else_=0)),
            func.count(rating),
            func.sum(rating),
            func.sum(rating * rating),
            func.sum(case((rating >= SATISFIED_RATING, 1), else_=0)),
        )
        .select_from(uses)
        .join(conv, conv.id == uses.c.conversation_id)
        .outerjoin(SurveyResponse, SurveyResponse.conversation_id == conv.id)
        .group_by(*group)
    )
    out: dict[Any, Outcomes] = {}
    for row in await session.execute(query):
        key = tuple(row[: len(keys)]) if len(keys) > 1 else row[0]
        n, resolved, rated, total, squares, satisfied = row[len(keys) :]
        out[key] = Outcomes(
            conversations=int(n or 0),
            resolved=int(resolved or 0),
            rated=int(rated or 0),
            rating_sum=float(total or 0),
            rating_sq=float(squares or 0),
            satisfied=int(satisfied or 0),
        )
    return out


async def event_counts(
    session: AsyncSession,
    *,
    shop_id: int,
    start: dt.datetime,
    end: dt.datetime | None,
    keys: Sequence[str],
    script_id: int | None = None,
) -> dict[Any, Usage]:
    """Event counts by kind, grouped by `keys` (ScriptEvent columns)."""
    cols = [getattr(ScriptEvent, k) for k in keys]
    conds = _in_period(shop_id, start, end)
    if script_id is not None:
        conds.append(ScriptEvent.script_id == script_id)
    query = (
        select(*cols, ScriptEvent.kind, ScriptEvent.edited, func.count())
        .where(*conds)
        .group_by(*cols, ScriptEvent.kind, ScriptEvent.edited)
    )
    out: dict[Any, Usage] = {}
    for row in await session.execute(query):
        key = tuple(row[: len(keys)]) if len(keys) > 1 else row[0]
        kind, edited, n = row[len(keys) :]
        out.setdefault(key, Usage()).add(str(kind), edited, int(n))
    return out


SORT_KEYS: dict[str, Any] = {
    "title": lambda s: s.title,
    "suggested": lambda s: s.usage.suggested,
    "inserted": lambda s: s.usage.inserted,
    "sent": lambda s: s.usage.sent,
    "edited_rate": lambda s: s.usage.edited_rate,
    "bot_answered": lambda s: s.usage.bot_answered,
    "conversations": lambda s: s.usage.outcomes.conversations,
    "resolution": lambda s: s.usage.outcomes.resolution_rate,
    "csat": lambda s: s.usage.outcomes.csat_mean,
}


def sort_stats(items: list[ScriptStats], key: str, descending: bool) -> list[ScriptStats]:
    """Sorted by `key`; scripts without a value (no uses) always come last."""
    get = SORT_KEYS.get(key, SORT_KEYS["bot_answered"])
    present = [s for s in items if get(s) is not None]
    missing = [s for s in items if get(s) is None]
    present.sort(key=lambda s: (get(s), -s.script_id), reverse=descending)
    return present + sorted(missing, key=lambda s: s.script_id)


async def script_stats(
    session: AsyncSession, *, shop_id: int, period: Period, script_id: int | None = None
) -> list[ScriptStats]:
    """Every script in the library (and any retired one used in the period), with totals and
    one row per (channel, variant) it was used in. Ordered by script id."""
    start, end = period.start, period.end
    per_script = await event_counts(
        session, shop_id=shop_id, start=start, end=end, keys=["script_id"], script_id=script_id
    )
    per_variant = await event_counts(
        session,
        shop_id=shop_id,
        start=start,
        end=end,
        keys=["script_id", "channel", "variant"],
        script_id=script_id,
    )
    script_outcomes = await outcomes_by(
        session,
        uses_subquery(
            shop_id=shop_id, start=start, end=end, keys=["script_id"], script_id=script_id
        ),
        ["script_id"],
    )
    variant_outcomes = await outcomes_by(
        session,
        uses_subquery(
            shop_id=shop_id,
            start=start,
            end=end,
            keys=["script_id", "channel", "variant"],
            script_id=script_id,
        ),
        ["script_id", "channel", "variant"],
    )
    used = set(per_script) | set(script_outcomes)
    query = select(Script.id, Script.title, Script.category, Script.status, Script.ab_split).where(
        Script.shop_id == shop_id
    )
    if script_id is not None:
        query = query.where(Script.id == script_id)
    elif used:
        query = query.where(or_(Script.status != ScriptStatus.retired, Script.id.in_(used)))
    else:
        query = query.where(Script.status != ScriptStatus.retired)
    variants: dict[int, list[VariantStats]] = {}
    for key in sorted(set(per_variant) | set(variant_outcomes)):
        sid, channel, variant = key
        usage = per_variant.get(key) or Usage()
        usage.outcomes = variant_outcomes.get(key) or Outcomes()
        variants.setdefault(sid, []).append(VariantStats(str(channel), str(variant), usage))
    out = []
    for sid, title, category, status, split in await session.execute(query.order_by(Script.id)):
        usage = per_script.get(sid) or Usage()
        usage.outcomes = script_outcomes.get(sid) or Outcomes()
        out.append(
            ScriptStats(
                script_id=sid,
                title=title,
                category=category,
                status=str(status),
                ab_split=split,
                usage=usage,
                variants=variants.get(sid, []),
            )
        )
    return out
