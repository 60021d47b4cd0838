"""Tickets: create (from a conversation or directly), change with a timeline, comment, list.

Every change is one `TicketEvent` per field (who, when, before → after) plus an audit entry, and
a `ticket.created` / `ticket.updated` frame on the shop's queue topic after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, events, outbox
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.commerce.models import Order
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.customers.models import Customer
from xiaoer.errors import Conflict, InvalidInput, NotFound
from xiaoer.shops.service import shop_timezone
from xiaoer.tickets.events import TicketChanged
from xiaoer.tickets.models import Ticket, TicketEvent, TicketStatus, TicketType

PRIORITIES = ("P1", "P2", "P3", "P4")
MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_COMMENT = 5_000
TITLE_FROM_MESSAGE_CHARS = 60

S = TicketStatus
# Forward moves a ticket may make; resolved/closed → open is a reopen.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.new: frozenset({S.open, S.pending, S.resolved, S.closed}),
    S.open: frozenset({S.pending, S.resolved, S.closed}),
    S.pending: frozenset({S.open, S.resolved, S.closed}),
    S.resolved: frozenset({S.open, S.closed}),
    S.closed: frozenset({S.open}),
}
REOPENABLE = frozenset({S.resolved, S.closed})
EDITABLE_FIELDS = (
    "title",
    "description",
    "type",
    "priority",
    "status",
    "assignee_id",
    "customer_id",
    "order_id",
)
# Serialises number allocation on PostgreSQL (an arbitrary constant: "tick" in ASCII).
_NUMBER_LOCK_KEY = 0x7469636B


def allowed_statuses(current: TicketStatus) -> list[TicketStatus]:
    return [s for s in TicketStatus if s in TRANSITIONS[current]]


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "description": ticket.description,
        "type": str(ticket.type),
        "priority": ticket.priority,
        "status": str(ticket.status),
        "assignee_id": ticket.assignee_id,
        "customer_id": ticket.customer_id,
        "order_id": ticket.order_id,
        "conversation_id": ticket.conversation_id,
    }


def _frame(kind: str, ticket: Ticket) -> dict[str, Any]:
    return {
        "type": kind,
        "ticket": {
            "id": ticket.id,
            "number": ticket.number,
            "title": ticket.title,
            "status": str(ticket.status),
            "priority": ticket.priority,
            "assignee_id": ticket.assignee_id,
            "conversation_id": ticket.conversation_id,
            "customer_id": ticket.customer_id,
        },
    }


def _queue_topic(shop_id: int) -> str:
    return f"queue:{shop_id}"


# ---- access and validation --------------------------------------------------------------------


async def access_ticket(session: AsyncSession, user: User, ticket_id: int) -> Ticket:
    """The only permission-checked fetch of a staff-supplied ticket id."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.shop_id != user.shop_id:
        raise NotFound("ticket not found")
    return ticket


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("title is required")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"title is longer than {MAX_TITLE} characters")
    return title


def _clean_description(description: str) -> str:
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is longer than {MAX_DESCRIPTION} characters")
    return description


def _check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise InvalidInput("priority must be one of P1, P2, P3, P4")
    return priority


def _check_type(value: Any) -> TicketType:
    try:
        return TicketType(value)
    except ValueError:
        raise InvalidInput(
            "type must be one of " + ", ".join(t.value for t in TicketType)
        ) from None


async def _check_assignee(session: AsyncSession, shop_id: int, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    if user is None or user.shop_id != shop_id:
        raise InvalidInput("assignee is not a staff member of this shop")
    if not user.is_active:
        raise InvalidInput("assignee is deactivated")
    return user.id


async def _check_customer(session: AsyncSession, shop_id: int, customer_id: int | None) -> None:
    if customer_id is None:
        return
    customer = await session.get(Customer, customer_id)
    if customer is None or customer.shop_id != shop_id:
        raise InvalidInput("customer not found in this shop")


async def _check_order(
    session: AsyncSession, shop_id: int, order_id: int | None, customer_id: int | None
) -> None:
    if order_id is None:
        return
    order = await session.get(Order, order_id)
    if order is None or order.shop_id != shop_id:
        raise InvalidInput("order not found in this shop")
    if customer_id is not None and order.customer_id != customer_id:
        raise InvalidInput("the order belongs to another customer")


# ---- numbering --------------------------------------------------------------------------------


async def _lock_numbering(session: AsyncSession, shop_id: int) -> None:
    """Only one transaction at a time allocates a shop's numbers, until it commits.

    PostgreSQL: a transaction-scoped advisory lock per shop. SQLite: a no-op write takes the
    database's write lock (writers are serialised there anyway), so the max read below is current.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            # The two-int4 key form; shops whose ids collide mod 2^31 merely queue together.
            text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), CAST(:shop AS integer))"),
            {"k": _NUMBER_LOCK_KEY, "shop": shop_id % 2**31},
        )
    else:
        await session.execute(text("UPDATE ticket SET number = number WHERE id = -1"))


async def _next_number(session: AsyncSession, shop_id: int, day: dt.date) -> str:
    prefix = f"T{day:%Y%m%d}-"
    last = await session.scalar(
        select(Ticket.number)
        .where(Ticket.shop_id == shop_id, Ticket.number.startswith(prefix, autoescape=True))
        .order_by(func.length(Ticket.number).desc(), Ticket.number.desc())
        .limit(1)
    )
    seq = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{seq:04d}"


async def _insert_with_number(session: AsyncSession, ticket: Ticket, tz: str) -> None:
    """`T` + local date + `-` + daily sequence, unique on both databases under concurrency:
    allocation is serialised, and a unique violation (someone bypassing the lock) retries."""
    await _lock_numbering(session, ticket.shop_id)
    day = clock.now().astimezone(ZoneInfo(tz)).date()
    for _attempt in range(5):
        ticket.number = await _next_number(session, ticket.shop_id, day)
        try:
            async with session.begin_nested():
                session.add(ticket)
                await session.flush()
            return
        except IntegrityError:
            continue
    raise Conflict("could not allocate a ticket number, try again")


# ---- create / change / comment ----------------------------------------------------------------


@dataclass(frozen=True)
class ConversationPrefill:
    conversation_id: int
    customer_id: int
    order_id: int | None
    title: str


async def prefill_from_conversation(
    session: AsyncSession, *, shop_id: int, conversation_id: int
) -> ConversationPrefill:
    """Customer, order and a title (the last customer message) for a ticket from a chat."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != shop_id:
        raise NotFound("conversation not found")
    last = await session.scalar(
        select(Message.body)
        .where(
            Message.conversation_id == conversation.id,
            Message.sender_type == SenderType.customer,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    title = " ".join((last or "").split())
    if len(title) > TITLE_FROM_MESSAGE_CHARS:
        title = title[: TITLE_FROM_MESSAGE_CHARS - 1] + "…"
    customer_id, order_id = conversation.customer_id, conversation.order_id
    order = await session.get(Order, order_id) if order_id is not None else None
    if order is not None and order.customer_id != customer_id:
        # The chatter named someone's order: an anonymous visitor is taken to be its owner
        # (as when identifying by order number); an identified other customer keeps no link.
        chatter = await session.get(Customer, customer_id)
        if chatter is not None and not (chatter.phone or chatter.email):
            customer_id = order.customer_id
        else:
            order_id = None
    return ConversationPrefill(
        conversation_id=conversation.id,
        customer_id=customer_id,
        order_id=order_id,
        title=title,
    )


async def create_ticket(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    title: str = "",
    description: str = "",
    type: TicketType | str = TicketType.consultation,
    priority: str = "P3",
    assignee_id: int | None = None,
    customer_id: int | None = None,
    order_id: int | None = None,
    conversation_id: int | None = None,
) -> Ticket:
    """A new ticket (status `new`). From a conversation, the customer, the order and the title
    default to the conversation's; explicit values win. Emits `ticket.created`."""
    if conversation_id is not None:
        prefill = await prefill_from_conversation(
            session, shop_id=shop_id, conversation_id=conversation_id
        )
        customer_id = customer_id if customer_id is not None else prefill.customer_id
        if order_id is None:
            order_id = prefill.order_id
        title = title.strip() or prefill.title
    ticket = Ticket(
        shop_id=shop_id,
        title=_clean_title(title),
        description=_clean_description(description),
        type=_check_type(type),
        priority=_check_priority(priority),
        status=TicketStatus.new,
        assignee_id=await _check_assignee(session, shop_id, assignee_id),
        customer_id=customer_id,
        order_id=order_id,
        conversation_id=conversation_id,
        created_by_id=actor.id if actor.type == "user" else None,
    )
    await _check_customer(session, shop_id, customer_id)
    await _check_order(session, shop_id, order_id, customer_id)
    await _insert_with_number(session, ticket, await shop_timezone(session, shop_id=shop_id))
    after = _snapshot(ticket)
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor_type=actor.type,
            actor_id=actor.id,
            kind="created",
            before=None,  # explicit None is stored as JSON null (the column is NOT NULL)
            after=after,
        )
    )
    await audit.record(
        session,
        actor=actor,
        action="ticket.created",
        entity_type="ticket",
        entity_id=ticket.id,
        after=after,
        shop_id=shop_id,
    )
    await outbox.publish(
        session,
        TicketChanged(
            shop_id=shop_id, actor=outbox.actor_of(actor), ticket_id=ticket.id, created=True
        ),
    )
    events.queue_frame(session, [_queue_topic(shop_id)], _frame("ticket.created", ticket))
    return ticket


async def update_ticket(
    session: AsyncSession, *, ticket: Ticket, actor: Actor, changes: Mapping[str, Any]
) -> list[TicketEvent]:
    """Applies the given fields (absent = unchanged; `assignee_id`/`order_id`/`customer_id` None
    = unlink). Status moves follow `TRANSITIONS`; resolved/closed → open is a reopen. Returns
    the timeline events written (none when nothing changed). Emits `ticket.updated`."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput("unknown field(s): " + ", ".join(sorted(unknown)))
    new: dict[str, Any] = {}
    if "title" in changes:
        new["title"] = _clean_title(str(changes["title"] or ""))
    if "description" in changes:
        new["description"] = _clean_description(str(changes["description"] or ""))
    if "type" in changes:
        new["type"] = _check_type(changes["type"])
    if "priority" in changes:
        new["priority"] = _check_priority(str(changes["priority"]))
    if "assignee_id" in changes:
        new["assignee_id"] = await _check_assignee(session, ticket.shop_id, changes["assignee_id"])
    if "customer_id" in changes:
        await _check_customer(session, ticket.shop_id, changes["customer_id"])
        new["customer_id"] = changes["customer_id"]
    if "order_id" in changes or "customer_id" in changes:
        order_id = changes.get("order_id", ticket.order_id)
        await _check_order(
            session, ticket.shop_id, order_id, new.get("customer_id", ticket.customer_id)
        )
        new["order_id"] = order_id
    if "status" in changes:
        try:
            status = TicketStatus(changes["status"])
        except ValueError:
            raise InvalidInput(
                "status must be one of " + ", ".join(s.value for s in TicketStatus)
            ) from None
        if status != ticket.status and status not in TRANSITIONS[ticket.status]:
            raise Conflict(
                f"a {ticket.status.value} ticket cannot move to {status.value}",
                code="invalid_transition",
            )
        new["status"] = status

    before = _snapshot(ticket)
    written: list[TicketEvent] = []
    for field in EDITABLE_FIELDS:
        if field not in new or new[field] == getattr(ticket, field):
            continue
        old = getattr(ticket, field)
        value = new[field]
        kind = "changed"
        if field == "status":
            kind = "reopened" if old in REOPENABLE and value == TicketStatus.open else "changed"
            now = clock.now()
            if value == TicketStatus.resolved:
                ticket.resolved_at = now
            elif value == TicketStatus.closed:
                ticket.closed_at = now
                ticket.resolved_at = ticket.resolved_at or now
            elif kind == "reopened":
                ticket.resolved_at = None
                ticket.closed_at = None
        setattr(ticket, field, value)
        event = TicketEvent(
            ticket_id=ticket.id,
            actor_type=actor.type,
            actor_id=actor.id,
            kind=kind,
            field=field,
            before=str(old) if isinstance(old, (TicketStatus, TicketType)) else old,
            after=str(value) if isinstance(value, (TicketStatus, TicketType)) else value,
        )
        session.add(event)
        written.append(event)
    if not written:
        return []
    ticket.updated_at = clock.now()
    await session.flush()
    b, a = audit.diff(before, _snapshot(ticket))
    await audit.record(
        session,
        actor=actor,
        action="ticket.updated",
        entity_type="ticket",
        entity_id=ticket.id,
        before=b,
        after=a,
        shop_id=ticket.shop_id,
    )
    await outbox.publish(
        session,
        TicketChanged(
            shop_id=ticket.shop_id,
            actor=outbox.actor_of(actor),
            ticket_id=ticket.id,
            created=False,
            fields=sorted({e.field for e in written if e.field}),
        ),
    )
    events.queue_frame(session, [_queue_topic(ticket.shop_id)], _frame("ticket.updated", ticket))
    return written


async def add_comment(
    session: AsyncSession, *, ticket: Ticket, actor: Actor, body: str
) -> TicketEvent:
    """A staff comment on the timeline (internal: customers never see tickets)."""
    body = body.strip()
    if not body:
        raise InvalidInput("comment is empty", key="comment_empty")
    if len(body) > MAX_COMMENT:
        raise InvalidInput(f"comment is longer than {MAX_COMMENT} characters")
    event = TicketEvent(
        ticket_id=ticket.id,
        actor_type=actor.type,
        actor_id=actor.id,
        kind="comment",
        before=None,
        after=None,
        comment=body,
    )
    session.add(event)
    ticket.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="ticket.commented",
        entity_type="ticket",
        entity_id=ticket.id,
        after={"comment": body[:500]},
        shop_id=ticket.shop_id,
    )
    return event


# ---- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilters:
    status: TicketStatus | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    priority: str | None = None
    type: TicketType | None = None
    customer_id: int | None = None
    conversation_id: int | None = None
    q: str | None = None


def _filtered(query: Select[Any], shop_id: int, f: TicketFilters) -> Select[Any]:
    query = query.where(Ticket.shop_id == shop_id)
    if f.status is not None:
        query = query.where(Ticket.status == f.status)
    if f.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif f.assignee_id is not None:
        query = query.where(Ticket.assignee_id == f.assignee_id)
    if f.priority:
        query = query.where(Ticket.priority == f.priority)
    if f.type is not None:
        query = query.where(Ticket.type == f.type)
    if f.customer_id is not None:
        query = query.where(Ticket.customer_id == f.customer_id)
    if f.conversation_id is not None:
        query = query.where(Ticket.conversation_id == f.conversation_id)
    q = (f.q or "").strip()
    if q:
        query = query.where(
            or_(
                Ticket.number.icontains(q, autoescape=True),
                Ticket.title.icontains(q, autoescape=True),
                Ticket.description.icontains(q, autoescape=True),
            )
        )
    return query


async def list_tickets(
    session: AsyncSession,
    *,
    shop_id: int,
    filters: TicketFilters | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[Ticket], int]:
    """One page, newest first, and the total matching."""
    f = filters or TicketFilters()
    total = await session.scalar(_filtered(select(func.count(Ticket.id)), shop_id, f)) or 0
    result = await session.scalars(
        _filtered(select(Ticket), shop_id, f)
        .order_by(Ticket.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(result), int(total)


async def tickets_for_customer(
    session: AsyncSession, *, shop_id: int, customer_id: int, limit: int = 20
) -> list[Ticket]:
    tickets, _ = await list_tickets(
        session, shop_id=shop_id, filters=TicketFilters(customer_id=customer_id), per_page=limit
    )
    return tickets


async def tickets_for_conversation(
    session: AsyncSession, *, shop_id: int, conversation_id: int
) -> list[Ticket]:
    tickets, _ = await list_tickets(
        session,
        shop_id=shop_id,
        filters=TicketFilters(conversation_id=conversation_id),
        per_page=50,
    )
    return tickets


async def timeline(session: AsyncSession, *, ticket: Ticket) -> list[TicketEvent]:
    """Oldest first."""
    result = await session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .order_by(TicketEvent.created_at, TicketEvent.id)
    )
    return list(result)


@dataclass(frozen=True)
class TicketLinks:
    """Names for the ids a ticket list shows, loaded in a few queries."""

    users: dict[int, User]
    customers: dict[int, Customer]
    orders: dict[int, Order]


async def links_for(
    session: AsyncSession, tickets: Sequence[Ticket], events_: Sequence[TicketEvent] = ()
) -> TicketLinks:
    user_ids = {t.assignee_id for t in tickets} | {t.created_by_id for t in tickets}
    user_ids |= {e.actor_id for e in events_ if e.actor_type == "user"}
    # Assignee changes name users in before/after.
    for e in events_:
        if e.field == "assignee_id":
            user_ids |= {e.before, e.after}
    customer_ids = {t.customer_id for t in tickets}
    order_ids = {t.order_id for t in tickets}
    for e in events_:
        if e.field == "customer_id":
            customer_ids |= {e.before, e.after}
        if e.field == "order_id":
            order_ids |= {e.before, e.after}

    def ids(values: set[Any]) -> list[int]:
        return [v for v in values if isinstance(v, int)]

    users = (
        {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids(user_ids))))}
        if ids(user_ids)
        else {}
    )
    customers = (
        {
            c.id: c
            for c in await session.scalars(
                select(Customer).where(Customer.id.in_(ids(customer_ids)))
            )
        }
        if ids(customer_ids)
        else {}
    )
    orders = (
        {o.id: o for o in await session.scalars(select(Order).where(Order.id.in_(ids(order_ids))))}
        if ids(order_ids)
        else {}
    )
    return TicketLinks(users=users, customers=customers, orders=orders)


async def assignable_staff(session: AsyncSession, *, shop_id: int) -> list[User]:
    result = await session.scalars(
        select(User)
        .where(User.shop_id == shop_id, User.is_active.is_(True))
        .order_by(User.display_name, User.id)
    )
    return list(result)
