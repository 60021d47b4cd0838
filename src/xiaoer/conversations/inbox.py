"""What staff read: conversation lists (queue / mine / open), detail, messages, unread badges.

Public functions: `list_conversations`, `conversation_detail`, `messages_after`, `mark_read`,
`unread_counts`, `customer_conversations` (earlier conversations for the customer panel),
`staff_with_open_chats` (the staff list with each one's chat load).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.auth.models import User
from xiaoer.conversations import frames
from xiaoer.conversations.models import (
    Conversation,
    ConversationRead,
    ConversationStatus,
    Message,
    SenderType,
)
from xiaoer.conversations.service import OPEN_STATUSES, sender_name
from xiaoer.customers.models import Customer
from xiaoer.customers.service import customer_brief

View = Literal["queue", "mine", "open", "closed"]
LIST_LIMIT = 200


async def _last_messages(session: AsyncSession, ids: Sequence[int]) -> dict[int, Message]:
    if not ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.sender_type != SenderType.note)
        .group_by(Message.conversation_id)
    )
    rows = await session.scalars(select(Message).where(Message.id.in_(newest)))
    return {m.conversation_id: m for m in rows}


async def unread_counts(
    session: AsyncSession, *, user_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    """Customer messages newer than what `user_id` marked read, per conversation."""
    if not conversation_ids:
        return {}
    read = (
        select(ConversationRead.conversation_id, ConversationRead.last_read_message_id)
        .where(ConversationRead.user_id == user_id)
        .subquery()
    )
    rows = await session.execute(
        select(Message.conversation_id, func.count())
        .outerjoin(read, read.c.conversation_id == Message.conversation_id)
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.sender_type == SenderType.customer,
            Message.id > func.coalesce(read.c.last_read_message_id, 0),
        )
        .group_by(Message.conversation_id)
    )
    return {cid: int(n) for cid, n in rows.all()}


async def summaries(
    session: AsyncSession, conversations: Sequence[Conversation], *, viewer: User
) -> list[dict[str, Any]]:
    ids = [c.id for c in conversations]
    customer_ids = {c.customer_id for c in conversations}
    user_ids = {c.assignee_id for c in conversations if c.assignee_id}
    customers = (
        {
            c.id: c
            for c in await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
        }
        if customer_ids
        else {}
    )
    users = (
        {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    last = await _last_messages(session, ids)
    unread = await unread_counts(session, user_id=viewer.id, conversation_ids=ids)
    now = clock.now()
    rows = []
    for c in conversations:
        customer = customers.get(c.customer_id)
        assignee = users.get(c.assignee_id) if c.assignee_id else None
        rows.append(
            frames.conversation_summary(
                c,
                customer=customer_brief(customer) if customer else None,
                assignee={"id": assignee.id, "display_name": assignee.display_name}
                if assignee
                else None,
                last_message=last.get(c.id),
                unread=unread.get(c.id, 0),
                now=now,
            )
        )
    return rows


async def list_conversations(
    session: AsyncSession, *, viewer: User, view: View = "queue", limit: int = LIST_LIMIT
) -> list[dict[str, Any]]:
    """`queue`: waiting, by priority then longest wait; `mine`: the viewer's active chats;
    `open`: everything not closed in the shop; `closed`: most recently closed."""
    query = select(Conversation).where(Conversation.shop_id == viewer.shop_id)
    if view == "queue":
        query = query.where(Conversation.status == ConversationStatus.queued).order_by(
            Conversation.priority, Conversation.queued_at, Conversation.id
        )
    elif view == "mine":
        query = query.where(
            Conversation.status == ConversationStatus.active, Conversation.assignee_id == viewer.id
        ).order_by(Conversation.last_message_at.desc())
    elif view == "open":
        query = query.where(Conversation.status.in_(OPEN_STATUSES)).order_by(
            Conversation.last_message_at.desc()
        )
    else:
        query = query.where(Conversation.status == ConversationStatus.closed).order_by(
            Conversation.closed_at.desc()
        )
    conversations = list(await session.scalars(query.limit(min(limit, LIST_LIMIT))))
    return await summaries(session, conversations, viewer=viewer)


async def messages_after(
    session: AsyncSession, *, conversation: Conversation, after: int = 0, limit: int = 500
) -> list[dict[str, Any]]:
    """Every message (internal notes and bot decisions included) in the staff shape."""
    result = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.id > after)
        .order_by(Message.id)
        .limit(limit)
    )
    return [frames.staff_message(m, sender_name(m)) for m in result]


async def conversation_detail(
    session: AsyncSession, *, conversation: Conversation, viewer: User
) -> dict[str, Any]:
    """The summary with every message. The customer's rating (a surveys fact) is added by the
    route that shows it, so this domain does not depend on surveys."""
    (summary,) = await summaries(session, [conversation], viewer=viewer)
    summary["messages"] = await messages_after(session, conversation=conversation, limit=2000)
    return summary


async def customer_conversations(
    session: AsyncSession, *, viewer: User, customer_id: int, limit: int = 20
) -> list[dict[str, Any]]:
    """The customer's conversations in the viewer's shop, newest first (customer panel)."""
    result = await session.scalars(
        select(Conversation)
        .where(Conversation.shop_id == viewer.shop_id, Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(limit)
    )
    return await summaries(session, list(result), viewer=viewer)


async def mark_read(
    session: AsyncSession, *, conversation: Conversation, user: User, message_id: int
) -> None:
    """Moves the viewer's read marker forward (never back)."""
    newest = await session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation.id)
    )
    message_id = min(message_id, int(newest or 0))
    marker = await session.get(ConversationRead, (conversation.id, user.id))
    if marker is None:
        session.add(
            ConversationRead(
                conversation_id=conversation.id, user_id=user.id, last_read_message_id=message_id
            )
        )
    elif message_id > marker.last_read_message_id:
        marker.last_read_message_id = message_id


async def waiting_by_shop(session: AsyncSession) -> dict[int, tuple[int, float]]:
    """Per shop: how many conversations wait for an agent and how long the oldest has waited
    (seconds) — the queue gauges on /metrics."""
    rows = await session.execute(
        select(Conversation.shop_id, func.count(), func.min(Conversation.queued_at))
        .where(Conversation.status == ConversationStatus.queued)
        .group_by(Conversation.shop_id)
    )
    now = clock.now()
    waiting: dict[int, tuple[int, float]] = {}
    for shop_id, count, oldest in rows.all():
        if oldest is not None and oldest.tzinfo is None:  # SQLite aggregates drop the type
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        waiting[int(shop_id)] = (int(count), max(0.0, age))
    return waiting


async def staff_with_open_chats(session: AsyncSession, *, shop_id: int) -> list[tuple[User, int]]:
    """Active staff of a shop with how many conversations each is handling right now
    (the transfer picker and the workspace show the load)."""
    load = (
        select(Conversation.assignee_id, func.count().label("n"))
        .where(Conversation.shop_id == shop_id, Conversation.status == ConversationStatus.active)
        .group_by(Conversation.assignee_id)
        .subquery()
    )
    rows = await session.execute(
        select(User, func.coalesce(load.c.n, 0))
        .outerjoin(load, load.c.assignee_id == User.id)
        .where(User.shop_id == shop_id, User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return [(user, int(n)) for user, n in rows.all()]
