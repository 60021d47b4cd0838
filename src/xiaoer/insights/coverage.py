"""Coverage: the share of customer messages a published script matched above the threshold.

A customer message is covered when the bot answered it with a script (a `BotDecision` with a
script) or a script suggestion for it cleared the answer threshold (a `ScriptEvent` with
`matched`). One GROUP BY over the period's customer messages, bucketed per local day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.bot.models import BotDecision
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.insights.period import Period
from xiaoer.knowledge.models import ScriptEvent


@dataclass
class DayCoverage:
    day: dt.date
    messages: int = 0
    covered: int = 0

    @property
    def share(self) -> float | None:
        return self.covered / self.messages if self.messages else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "messages": self.messages,
            "covered": self.covered,
            "share": self.share,
        }


@dataclass
class Coverage:
    period: Period
    days: list[DayCoverage] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return sum(d.messages for d in self.days)

    @property
    def covered(self) -> int:
        return sum(d.covered for d in self.days)

    @property
    def share(self) -> float | None:
        return self.covered / self.messages if self.messages else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.period.params(),
            "messages": self.messages,
            "covered": self.covered,
            "share": self.share,
            "days": [d.as_dict() for d in self.days],
        }


async def coverage(session: AsyncSession, *, shop_id: int, period: Period) -> Coverage:
    start, end = period.start, period.end
    # Decisions and events are written with (or after) their message, so `>= start` bounds them.
    answered = select(BotDecision.message_id).where(
        BotDecision.shop_id == shop_id,
        BotDecision.script_id.is_not(None),
        BotDecision.created_at >= start,
    )
    matched = select(ScriptEvent.message_id).where(
        ScriptEvent.shop_id == shop_id,
        ScriptEvent.matched.is_(True),
        ScriptEvent.message_id.is_not(None),
        ScriptEvent.created_at >= start,
    )
    covered = or_(Message.id.in_(answered), Message.id.in_(matched))
    # Grouping on a subquery's column: PostgreSQL would not match a bound CASE in GROUP BY.
    per_message = (
        select(
            period.day_index(Message.created_at).label("day"),
            case((covered, 1), else_=0).label("covered"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.shop_id == shop_id,
            Message.sender_type == SenderType.customer,
            Message.created_at >= start,
            Message.created_at < end,
        )
        .subquery()
    )
    rows = await session.execute(
        select(per_message.c.day, func.count(), func.sum(per_message.c.covered)).group_by(
            per_message.c.day
        )
    )
    days = [DayCoverage(d) for d in period.days]
    for index, n, hits in rows:
        days[int(index)].messages = int(n)
        days[int(index)].covered = int(hits or 0)
    return Coverage(period=period, days=days)
