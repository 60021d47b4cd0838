"""Conversations: the customer side (open, post, bot turn, hand-off) and the staff side (accept,
reply, note, transfer, close). Staff lists, detail and read markers live in `inbox.py`.

Every function runs inside the caller's transaction and never commits. Realtime frames are
queued with `xiaoer.events.queue_frame` and go out only after the caller commits (topics in
`frames.py`). Public functions:

- `access_conversation`, `latest_conversation`, `conversation_for_customer`
- `post_customer_message` (idempotent per client message id; runs the bot inline)
- `request_handoff`, `queue_position`, `link_customer`
- `accept_conversation` (atomic: only one agent wins), `post_staff_message` (reply or internal
  note), `transfer_conversation`, `close_conversation`
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, events, metrics, outbox
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import Role, User
from xiaoer.auth.service import actor_for
from xiaoer.bot import service as bot
from xiaoer.conversations import frames, replies
from xiaoer.conversations.events import ConversationAssigned, MessageReceived
from xiaoer.conversations.models import Conversation, ConversationStatus, Message, SenderType
from xiaoer.errors import Conflict, Forbidden, InvalidInput, NotFound

DEFAULT_MAX_CHARS = 4000
OPEN_STATUSES = (ConversationStatus.bot, ConversationStatus.queued, ConversationStatus.active)
SUPERVISING_ROLES = (Role.admin, Role.supervisor)
_LOCALES = Path(__file__).parent / "locales"


@lru_cache(maxsize=4)
def _strings(locale: str) -> dict[str, str]:
    path = _LOCALES / f"{locale}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return data


def system_text(key: str, locale: str = "zh-CN", **params: Any) -> str:
    """Stored system messages are in the shop's language; their key lets widgets translate."""
    text = _strings(locale).get(key) or _strings("en").get(key) or key
    return text.format(**params) if params else text


def check_body(body: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput("message is empty", code="empty_message")
    if len(text) > max_chars:
        raise InvalidInput(f"message is longer than {max_chars} characters", code="too_long")
    return text


# --- lookups -------------------------------------------------------------------------------


async def access_conversation(
    session: AsyncSession, user: User, conversation_id: int
) -> Conversation:
    """The only permission-checked fetch of a staff-supplied conversation id."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != user.shop_id:
        raise NotFound("conversation not found")
    return conversation


async def latest_conversation(
    session: AsyncSession, *, shop_id: int, customer_id: int
) -> Conversation | None:
    return await session.scalar(
        select(Conversation)
        .where(Conversation.shop_id == shop_id, Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def conversation_for_customer(
    session: AsyncSession, *, shop_id: int, customer_id: int, channel: str = "webchat"
) -> tuple[Conversation, bool]:
    """The customer's open conversation, or a new one (True) when the latest is closed."""
    latest = await latest_conversation(session, shop_id=shop_id, customer_id=customer_id)
    if latest is not None and latest.status != ConversationStatus.closed:
        return latest, False
    conversation = Conversation(
        shop_id=shop_id, customer_id=customer_id, channel=channel, status=ConversationStatus.bot
    )
    session.add(conversation)
    await session.flush()
    return conversation, True


async def customer_messages_after(
    session: AsyncSession, *, conversation_id: int, after: int, limit: int = 500
) -> list[Message]:
    """What the customer missed (resume after reconnect); internal notes excluded."""
    result = await session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.id > after,
            Message.sender_type != SenderType.note,
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return list(result)


# --- messages and their frames ----------------------------------------------------------------


def sender_name(message: Message) -> str:
    return str((message.meta or {}).get("sender_name", ""))


def _publish_message(session: AsyncSession, conversation: Conversation, message: Message) -> None:
    staff_frame = {
        "type": "message.created",
        "message": frames.staff_message(message, sender_name(message)),
    }
    if message.sender_type == SenderType.note:
        events.queue_frame(session, [frames.staff_topic(conversation.id)], staff_frame)
        return
    customer_frame = {
        "type": "message.created",
        "message": frames.customer_message(message, sender_name(message)),
    }
    events.queue_frame(session, [frames.customer_topic(conversation.id)], customer_frame)
    events.queue_frame(session, [frames.staff_topic(conversation.id)], staff_frame)


def queue_summary(session: AsyncSession, conversation: Conversation, last: Message | None) -> None:
    """Tell every staff member of the shop that a conversation row changed."""
    events.queue_frame(
        session,
        [frames.queue_topic(conversation.shop_id)],
        {
            "type": "conversation.updated",
            "conversation": frames.conversation_summary(conversation, last_message=last),
        },
    )


async def _add_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    sender_type: SenderType,
    body: str,
    sender_id: int | None = None,
    client_msg_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        sender_type=sender_type,
        sender_id=sender_id,
        body=body,
        client_msg_id=client_msg_id,
        meta=meta or {},
    )
    session.add(message)
    await session.flush()
    if sender_type != SenderType.note:
        conversation.last_message_at = message.created_at
    _publish_message(session, conversation, message)
    metrics.MESSAGES.labels(
        "in" if sender_type == SenderType.customer else "out", str(sender_type)
    ).inc()
    return message


async def add_system_message(
    session: AsyncSession, conversation: Conversation, key: str, **params: Any
) -> Message:
    return await _add_message(
        session,
        conversation,
        sender_type=SenderType.system,
        body=system_text(key, **params),
        meta={"i18n": {"key": key, "params": params}},
    )


async def _existing_customer_message(
    session: AsyncSession, *, shop_id: int, customer_id: int, client_msg_id: str
) -> Message | None:
    return await session.scalar(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.shop_id == shop_id,
            Conversation.customer_id == customer_id,
            Message.client_msg_id == client_msg_id,
            Message.sender_type == SenderType.customer,
        )
        .limit(1)
    )


# --- the customer's turn and the bot ---------------------------------------------------------


@dataclass(frozen=True)
class CustomerPost:
    conversation: Conversation
    message: Message
    created: bool  # False: a resend of a message stored before (nothing else happened)
    opened: bool  # a new conversation was opened for it (the previous one was closed)


@dataclass
class CustomerMessagePlan:
    """What `prepare_customer_message` read and decided, for `store_customer_message`."""

    shop_id: int
    customer_id: int
    client_msg_id: str
    text: str
    wants_human: bool
    bot_registry: Any
    existing: Message | None = None
    conversation: Conversation | None = None  # the open conversation, if any
    decision: Any = None  # the bot's decision, made for `turns` unanswered turns
    turns: int = 0
    # Whose orders the bot may answer from: "own" for a known customer, "none" for a widget
    # visitor who has not verified (bot.service.OrderAccess).
    order_access: Literal["any", "own", "none"] = "own"


async def prepare_customer_message(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    client_msg_id: str,
    body: str,
    bot_registry: Any,
    wants_human: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    order_access: Literal["any", "own", "none"] = "own",
) -> CustomerMessagePlan:
    """The reading half of `post_customer_message`: validation, the resend check and the bot's
    decision. It writes nothing, so on SQLite it can run while another unit holds the writer."""
    plan = CustomerMessagePlan(
        shop_id=shop_id,
        customer_id=customer_id,
        client_msg_id=client_msg_id,
        text=check_body(body, max_chars),
        wants_human=wants_human,
        bot_registry=bot_registry,
        order_access=order_access,
    )
    plan.existing = await _existing_customer_message(
        session, shop_id=shop_id, customer_id=customer_id, client_msg_id=client_msg_id
    )
    if plan.existing is not None:
        return plan
    latest = await latest_conversation(session, shop_id=shop_id, customer_id=customer_id)
    if latest is not None and latest.status != ConversationStatus.closed:
        plan.conversation = latest
        plan.turns = latest.bot_unanswered_turns
    if not wants_human and (plan.conversation is None or plan.conversation.status == "bot"):
        plan.decision = await _decide(session, plan, plan.turns)
    return plan


async def _decide(session: AsyncSession, plan: CustomerMessagePlan, turns: int) -> Any:
    return await bot.decide(
        session,
        registry=plan.bot_registry,
        shop_id=plan.shop_id,
        text=plan.text,
        customer_id=plan.customer_id,
        unanswered_turns=turns,
        order_access=plan.order_access,
        focus_order_id=plan.conversation.order_id if plan.conversation is not None else None,
    )


async def store_customer_message(
    session: AsyncSession, *, plan: CustomerMessagePlan
) -> CustomerPost:
    """The writing half: stores the message (once per client id), then the bot's answer or the
    hand-off. Whatever changed since `prepare` (an agent accepted, another message counted a
    turn) is re-read first, and the bot decides again if its premises no longer hold."""
    if plan.existing is not None:
        conversation = await session.get(Conversation, plan.existing.conversation_id)
        assert conversation is not None
        return CustomerPost(conversation, plan.existing, created=False, opened=False)
    if plan.conversation is not None:
        await session.refresh(plan.conversation)
    conversation, opened = await conversation_for_customer(
        session, shop_id=plan.shop_id, customer_id=plan.customer_id
    )
    message = await _add_message(
        session,
        conversation,
        sender_type=SenderType.customer,
        body=plan.text,
        client_msg_id=plan.client_msg_id,
    )
    await outbox.publish(
        session,
        MessageReceived(
            shop_id=conversation.shop_id,
            actor=outbox.EventActor("customer", plan.customer_id),
            conversation_id=conversation.id,
            message_id=message.id,
            customer_id=plan.customer_id,
            channel=conversation.channel,
        ),
    )
    last = message
    if conversation.status == ConversationStatus.bot:
        if plan.wants_human:
            last = await request_handoff(session, conversation, reason="customer_request")
        else:
            decision = plan.decision
            if decision is None or conversation.bot_unanswered_turns != plan.turns:
                decision = await _decide(session, plan, conversation.bot_unanswered_turns)
            last = await _bot_turn(session, conversation, message, decision)
    queue_summary(session, conversation, last)
    return CustomerPost(conversation, message, created=True, opened=opened)


async def post_customer_message(
    session: AsyncSession,
    *,
    shop_id: int,
    customer_id: int,
    client_msg_id: str,
    body: str,
    bot_registry: Any,
    wants_human: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> CustomerPost:
    """Stores a customer message once per `client_msg_id`, then lets the bot answer (only while
    the conversation is with the bot) or hands over, all in the caller's transaction. A
    concurrent resend that loses the race on the (conversation_id, client_msg_id) unique key
    raises IntegrityError: the caller retries the whole unit, and the retry finds the message."""
    plan = await prepare_customer_message(
        session,
        shop_id=shop_id,
        customer_id=customer_id,
        client_msg_id=client_msg_id,
        body=body,
        bot_registry=bot_registry,
        wants_human=wants_human,
        max_chars=max_chars,
    )
    return await store_customer_message(session, plan=plan)


def _is_upset(emotion: dict[str, Any]) -> bool:
    """Upset customers wait less: their conversation jumps ahead in the queue."""
    intensity = float(emotion.get("intensity") or 0.0)
    return emotion.get("polarity") == "negative" and intensity >= 0.7


async def _bot_turn(
    session: AsyncSession, conversation: Conversation, message: Message, decision: Any
) -> Message:
    """The bot speaks only while the conversation is with it; its decision is stored with the
    customer message, and a hand-off moves the conversation to the agent queue."""
    await bot.record_decision(
        session,
        result=decision,
        shop_id=conversation.shop_id,
        conversation_id=conversation.id,
        message_id=message.id,
    )
    summary = {
        "script_id": decision.script_id,
        "script_title": decision.script_title,
        "intent": decision.intent,
        "confidence": round(float(decision.confidence or 0.0), 4),
        "handoff": decision.handoff,
        "handoff_reason": decision.handoff_reason,
    }
    message.meta = {**(message.meta or {}), "bot": summary}
    if decision.order_id is not None and conversation.order_id is None:
        conversation.order_id = decision.order_id
    if _is_upset(decision.emotion):
        conversation.priority = min(conversation.priority, 2)
    reply = None
    if decision.answer:
        reply = await _add_message(
            session,
            conversation,
            sender_type=SenderType.bot,
            body=decision.answer,
            meta={"bot": summary, "sender_name": system_text("conversations.bot.name")},
        )
    if decision.handoff:
        return await request_handoff(
            session, conversation, reason=str(decision.handoff_reason or "bot")
        )
    conversation.bot_unanswered_turns = (
        0 if decision.script_id else conversation.bot_unanswered_turns + 1
    )
    if decision.script_id:
        metrics.BOT_ANSWERS.inc()
    if reply is None:
        reply = await _add_message(
            session,
            conversation,
            sender_type=SenderType.bot,
            body=system_text("conversations.bot.fallback"),
            meta={"bot": summary, "sender_name": system_text("conversations.bot.name")},
        )
    return reply


async def queue_position(session: AsyncSession, conversation: Conversation) -> int:
    """How many queued conversations of the shop an agent takes before this one."""
    assert conversation.queued_at is not None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.shop_id == conversation.shop_id,
            Conversation.status == ConversationStatus.queued,
            Conversation.id != conversation.id,
            or_(
                Conversation.priority < conversation.priority,
                and_(
                    Conversation.priority == conversation.priority,
                    Conversation.queued_at < conversation.queued_at,
                ),
            ),
        )
    )
    return int(ahead or 0)


async def request_handoff(
    session: AsyncSession, conversation: Conversation, *, reason: str
) -> Message:
    """Moves a bot conversation to the agent queue and tells the customer their place in it."""
    if conversation.status != ConversationStatus.bot:
        raise Conflict("conversation is not with the bot")
    conversation.status = ConversationStatus.queued
    conversation.queued_at = clock.now()
    conversation.handoff_reason = reason[:40]
    ahead = await queue_position(session, conversation)
    # "0 customers ahead of you" reads like a glitch; say it is their turn next instead.
    key = "conversations.system.queued" if ahead else "conversations.system.queued_next"
    notice = await add_system_message(session, conversation, key, ahead=ahead)
    events.queue_frame(
        session,
        [frames.customer_topic(conversation.id)],
        {
            "type": "handoff",
            "conversation_id": conversation.id,
            "queue_position": ahead,
            "reason": reason,
        },
    )
    events.queue_frame(
        session,
        [frames.queue_topic(conversation.shop_id)],
        {
            "type": "conversation.queued",
            "conversation": frames.conversation_summary(conversation, last_message=notice),
            "queue_position": ahead,
        },
    )
    metrics.HANDOFFS.labels(reason[:40]).inc()
    return notice


async def link_customer(
    session: AsyncSession, conversation: Conversation, *, customer_id: int, order_id: int | None
) -> None:
    """After a visitor identified themselves: the conversation belongs to that customer."""
    conversation.customer_id = customer_id
    if order_id is not None:
        conversation.order_id = order_id
    queue_summary(session, conversation, None)


async def move_customer_conversations(
    session: AsyncSession,
    *,
    shop_id: int,
    from_customer_id: int,
    to_customer_id: int,
    order_id: int | None = None,
) -> list[int]:
    """After a visitor verified: what they wrote on their anonymous record becomes the
    verified customer's (agents see the link from now on). Returns the conversation ids."""
    moved = list(
        await session.scalars(
            select(Conversation).where(
                Conversation.shop_id == shop_id, Conversation.customer_id == from_customer_id
            )
        )
    )
    for conversation in moved:
        open_ = conversation.status != ConversationStatus.closed
        await link_customer(
            session,
            conversation,
            customer_id=to_customer_id,
            order_id=order_id if open_ and conversation.order_id is None else None,
        )
    await session.flush()
    return [c.id for c in moved]


# --- the staff side ----------------------------------------------------------------------------


def _may_handle(user: User, conversation: Conversation) -> bool:
    return conversation.assignee_id == user.id or user.role in SUPERVISING_ROLES


def _snapshot(conversation: Conversation) -> dict[str, Any]:
    return {"status": str(conversation.status), "assignee_id": conversation.assignee_id}


async def _publish_assigned(
    session: AsyncSession,
    conversation: Conversation,
    actor: Actor,
    assignee_id: int,
    before: dict[str, Any],
    *,
    how: str,
) -> None:
    await outbox.publish(
        session,
        ConversationAssigned(
            shop_id=conversation.shop_id,
            actor=outbox.actor_of(actor),
            conversation_id=conversation.id,
            assignee_id=assignee_id,
            previous_assignee_id=before.get("assignee_id"),
            how=how,
        ),
    )


async def accept_conversation(
    session: AsyncSession, *, conversation: Conversation, user: User, actor: Actor
) -> Conversation:
    """Takes a queued (or bot) conversation. A conditional UPDATE makes it atomic: of two agents
    accepting at once exactly one changes the row, the other gets Conflict."""
    before = _snapshot(conversation)
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.status.in_(("queued", "bot")))
        .values(status=ConversationStatus.active, assignee_id=user.id, accepted_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("another agent has already taken this conversation", code="already_taken")
    await session.refresh(conversation)
    await _publish_assigned(session, conversation, actor, user.id, before, how="accepted")
    notice = await add_system_message(
        session, conversation, "conversations.system.accepted", agent=user.display_name
    )
    await audit.record(
        session,
        actor=actor,
        action="conversation.accepted",
        entity_type="conversation",
        entity_id=conversation.id,
        before=before,
        after=_snapshot(conversation),
    )
    queue_summary(session, conversation, notice)
    return conversation


async def post_staff_message(
    session: AsyncSession,
    *,
    conversation: Conversation,
    user: User,
    body: str,
    internal: bool = False,
    client_msg_id: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    script_id: int | None = None,
    inserted_text: str | None = None,
    approver: User | None = None,
    actor: Actor | None = None,
) -> Message:
    """A reply to the customer (assignee, or a supervisor stepping in) or an internal note (any
    staff of the shop; pushed to staff topics only). Idempotent per `client_msg_id`.

    A reply is linted first (`replies.check_reply`): when a rule blocks it, nothing is
    stored and `ReplyBlocked` carries the findings, unless `approver` (a supervisor, verified
    by the caller) approves it: the override is then kept in the message's meta and audited.
    `script_id` names the script the reply came from (`inserted_text`: as it was inserted), for
    the script's usage statistics."""
    text = check_body(body, max_chars)
    if client_msg_id:
        existing = await session.scalar(
            select(Message).where(
                Message.conversation_id == conversation.id, Message.client_msg_id == client_msg_id
            )
        )
        if existing is not None:
            if existing.sender_id != user.id:
                raise Conflict("client_msg_id already used in this conversation")
            return existing
    meta: dict[str, Any] = {"sender_name": user.display_name}
    check = None
    if not internal:
        if conversation.status != ConversationStatus.active:
            raise Conflict("accept the conversation before replying", code="not_active")
        if not _may_handle(user, conversation):
            raise Forbidden("this conversation is assigned to another agent")
        check = await replies.check_reply(
            session, conversation=conversation, user=user, text=text, script_id=script_id
        )
        if check.blocked:
            if approver is None:
                raise replies.ReplyBlocked(check)
            meta["lint_override"] = replies.override_meta(check, approver, clock.now())
        if script_id is not None:
            meta["script_id"] = script_id
    message = await _add_message(
        session,
        conversation,
        sender_type=SenderType.note if internal else SenderType.agent,
        body=text,
        sender_id=user.id,
        client_msg_id=client_msg_id,
        meta=meta,
    )
    if not internal:
        if check is not None and check.blocked and approver is not None:
            await replies.record_override(
                session,
                actor=actor or actor_for(user),
                conversation=conversation,
                message=message,
                check=check,
                sender=user,
                approver=approver,
            )
        if script_id is not None:
            await replies.record_sent(
                session,
                conversation=conversation,
                user=user,
                script_id=script_id,
                text=text,
                inserted_text=inserted_text,
            )
        queue_summary(session, conversation, message)
    return message


async def transfer_conversation(
    session: AsyncSession, *, conversation: Conversation, user: User, agent_id: int, actor: Actor
) -> Conversation:
    if conversation.status == ConversationStatus.closed:
        raise Conflict("conversation is closed", code="closed")
    if not _may_handle(user, conversation):
        raise Forbidden(
            "only the assigned agent or a supervisor may transfer this conversation",
            key="not_assigned_transfer",
        )
    target = await session.get(User, agent_id)
    if target is None or target.shop_id != conversation.shop_id or not target.is_active:
        raise NotFound("agent not found")
    if target.id == conversation.assignee_id:
        raise Conflict("the conversation is already with this agent")
    before = _snapshot(conversation)
    conversation.assignee_id = target.id
    conversation.status = ConversationStatus.active
    conversation.accepted_at = conversation.accepted_at or clock.now()
    await _publish_assigned(session, conversation, actor, target.id, before, how="transferred")
    notice = await add_system_message(
        session, conversation, "conversations.system.transferred", agent=target.display_name
    )
    await audit.record(
        session,
        actor=actor,
        action="conversation.transferred",
        entity_type="conversation",
        entity_id=conversation.id,
        before=before,
        after=_snapshot(conversation),
    )
    queue_summary(session, conversation, notice)
    events.queue_frame(
        session,
        [frames.agent_topic(target.id)],
        {
            "type": "conversation.assigned",
            "conversation": frames.conversation_summary(conversation, last_message=notice),
            "by": {"id": user.id, "display_name": user.display_name},
        },
    )
    return conversation


async def close_conversation(
    session: AsyncSession, *, conversation: Conversation, user: User, actor: Actor
) -> Conversation:
    """Ends the conversation; the customer's widget then asks for a rating."""
    if conversation.status == ConversationStatus.closed:
        raise Conflict("conversation is already closed", code="closed")
    if conversation.status == ConversationStatus.active and not _may_handle(user, conversation):
        raise Forbidden(
            "only the assigned agent or a supervisor may close this conversation",
            key="not_assigned_close",
        )
    before = _snapshot(conversation)
    conversation.status = ConversationStatus.closed
    conversation.closed_at = clock.now()
    notice = await add_system_message(session, conversation, "conversations.system.closed")
    await audit.record(
        session,
        actor=actor,
        action="conversation.closed",
        entity_type="conversation",
        entity_id=conversation.id,
        before=before,
        after=_snapshot(conversation),
    )
    events.queue_frame(
        session,
        [frames.customer_topic(conversation.id)],
        {"type": "conversation.closed", "conversation_id": conversation.id, "survey": True},
    )
    queue_summary(session, conversation, notice)
    return conversation
