"""Repeat-inquiry summary: when the customer had other conversations in the last 7 days, what
each was about, what was promised to them, and where their tickets stand.

Topic: the titles of the scripts the bot answered with (else its intents), else the first
customer message that is not just a request for a person, shortened. Promises: the sentences
of agent replies that commit to a time or an action (48小时内, 明天, 3个工作日内, 会给您…,
补偿/退款/补发).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.bot.models import BotDecision
from xiaoer.bot.service import wants_person
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.knowledge.models import Script
from xiaoer.tickets.models import Ticket

WINDOW = dt.timedelta(days=7)
MAX_CONVERSATIONS = 3
MAX_PROMISES = 3
TOPIC_CHARS = 40
PROMISE_CHARS = 120

_SENTENCE = re.compile(r"[^。！!？?；;\n]+[。！!？?；;]?")
_NUM = r"(?:\d+|[一二两三四五六七八九十半]+)"
PROMISE = re.compile(
    rf"{_NUM}\s*个?\s*(?:小时|工作日|天|日|分钟|周|星期)(?:内|之内|以内)"
    r"|今天|今日|明天|明日|后天|当天|今晚|本周|下周"
    r"|\d{1,2}\s*[点:：]"
    r"|(?:会|将|马上|立即|立刻)(?:给|为|帮|替)(?:您|你)"
    r"|补偿|赔偿|退款|补发|重新发|重发|换货|退货|上门取件|优惠券|红包"
)


def promises(text: str) -> list[str]:
    """The sentences of `text` that commit to something, as written."""
    out = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group().strip()
        if sentence and PROMISE.search(sentence):
            out.append(sentence[:PROMISE_CHARS])
    return out


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def _topic(session: AsyncSession, conversation_id: int) -> tuple[list[str], str]:
    """(topics, source) with source "scripts", "intents" or "message"."""
    decisions = list(
        await session.execute(
            select(BotDecision.script_id, BotDecision.intent)
            .where(BotDecision.conversation_id == conversation_id)
            .order_by(BotDecision.id)
        )
    )
    script_ids = list(dict.fromkeys(sid for sid, _ in decisions if sid is not None))
    if script_ids:
        titles = dict(
            (
                await session.execute(
                    select(Script.id, Script.title).where(Script.id.in_(script_ids))
                )
            ).all()
        )
        found = [titles[s] for s in script_ids if s in titles]
        if found:
            return found[:3], "scripts"
    intents = list(dict.fromkeys(i for _, i in decisions if i and i != "转人工"))
    if intents:
        return intents[:3], "intents"
    first = None
    for body in await session.scalars(
        select(Message.body)
        .where(
            Message.conversation_id == conversation_id,
            Message.sender_type == SenderType.customer,
        )
        .order_by(Message.id)
        .limit(10)
    ):
        first = first or body
        if not wants_person(body):  # "转人工" says nothing about the topic
            first = body
            break
    return ([_short(first, TOPIC_CHARS)] if first else []), "message"


async def repeat_summary(
    session: AsyncSession, *, conversation: Conversation, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The customer's other conversations of the last 7 days, newest first (at most 3)."""
    since = (now or clock.now()) - WINDOW
    earlier = list(
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.shop_id == conversation.shop_id,
                Conversation.customer_id == conversation.customer_id,
                Conversation.id != conversation.id,
                Conversation.last_message_at >= since,
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(MAX_CONVERSATIONS)
        )
    )
    out = []
    for c in earlier:
        topics, source = await _topic(session, c.id)
        replies = await session.scalars(
            select(Message.body)
            .where(Message.conversation_id == c.id, Message.sender_type == SenderType.agent)
            .order_by(Message.id)
        )
        promised: list[str] = []
        for body in replies:
            for p in promises(body):
                if p not in promised:
                    promised.append(p)
        tickets = await session.execute(
            select(Ticket.id, Ticket.number, Ticket.title, Ticket.status)
            .where(Ticket.conversation_id == c.id, Ticket.shop_id == conversation.shop_id)
            .order_by(Ticket.id)
        )
        out.append(
            {
                "conversation_id": c.id,
                "status": str(c.status),
                "started_at": c.created_at.isoformat() if c.created_at else None,
                "last_message_at": c.last_message_at.isoformat() if c.last_message_at else None,
                "topics": topics,
                "topic_source": source,
                # The latest promises matter most: they are what the customer is waiting for.
                "promises": promised[-MAX_PROMISES:],
                "tickets": [
                    {"id": tid, "number": number, "title": title, "status": str(status)}
                    for tid, number, title, status in tickets
                ],
            }
        )
    return out
