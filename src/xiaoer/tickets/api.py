"""Tickets JSON API under /api/v1/tickets (any staff of the shop)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.bounds import INT64_MAX, Id
from xiaoer.surveys.service import rating_for_ticket
from xiaoer.tickets import service
from xiaoer.tickets.models import Ticket, TicketEvent, TicketStatus, TicketType
from xiaoer.tickets.schemas import (
    CommentCreate,
    CustomerRef,
    OrderRef,
    Priority,
    Rating,
    TicketCreate,
    TicketDetail,
    TicketEventRead,
    TicketPage,
    TicketRead,
    TicketUpdate,
    UserRef,
)
from xiaoer.web.deps import DB, CurrentUser, user_actor

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


def _user_ref(links: service.TicketLinks, user_id: Id | None) -> UserRef | None:
    user = links.users.get(user_id) if user_id is not None else None
    return UserRef(id=user.id, display_name=user.display_name) if user else None


def ticket_read(ticket: Ticket, links: service.TicketLinks) -> TicketRead:
    customer = links.customers.get(ticket.customer_id) if ticket.customer_id else None
    order = links.orders.get(ticket.order_id) if ticket.order_id else None
    return TicketRead(
        id=ticket.id,
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        type=ticket.type,
        priority=ticket.priority,
        status=ticket.status,
        allowed_statuses=service.allowed_statuses(ticket.status),
        assignee=_user_ref(links, ticket.assignee_id),
        customer=CustomerRef(id=customer.id, name=customer.name) if customer else None,
        order=OrderRef(id=order.id, order_no=order.order_no, status=order.status)
        if order
        else None,
        conversation_id=ticket.conversation_id,
        created_by=_user_ref(links, ticket.created_by_id),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
    )


def event_read(event: TicketEvent, links: service.TicketLinks) -> TicketEventRead:
    return TicketEventRead(
        id=event.id,
        kind=event.kind,
        field=event.field,
        before=event.before,
        after=event.after,
        comment=event.comment,
        actor_type=event.actor_type,
        actor=_user_ref(links, event.actor_id) if event.actor_type == "user" else None,
        created_at=event.created_at,
    )


async def ticket_detail(session: AsyncSession, ticket: Ticket) -> TicketDetail:
    """The ticket with its timeline and the survey rating of its conversation."""
    events = await service.timeline(session, ticket=ticket)
    links = await service.links_for(session, [ticket], events)
    rating = await rating_for_ticket(session, ticket=ticket)
    return TicketDetail(
        **ticket_read(ticket, links).model_dump(),
        rating=Rating(**{k: rating[k] for k in ("rating", "comment", "created_at")})
        if rating
        else None,
        events=[event_read(e, links) for e in events],
    )


@router.get("")
async def list_tickets(
    session: DB,
    user: CurrentUser,
    status: TicketStatus | None = None,
    assignee_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    unassigned: bool = False,
    priority: Priority | None = None,
    type: TicketType | None = None,
    customer_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    conversation_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TicketPage:
    """Newest first. `q` searches number, title and description."""
    filters = service.TicketFilters(
        status=status,
        assignee_id=assignee_id,
        unassigned=unassigned,
        priority=priority,
        type=type,
        customer_id=customer_id,
        conversation_id=conversation_id,
        q=q,
    )
    tickets, total = await service.list_tickets(
        session, shop_id=user.shop_id, filters=filters, page=page, per_page=per_page
    )
    links = await service.links_for(session, tickets)
    return TicketPage(
        items=[ticket_read(t, links) for t in tickets], total=total, page=page, per_page=per_page
    )


@router.post("", status_code=201)
async def create_ticket(
    request: Request, body: TicketCreate, session: DB, user: CurrentUser
) -> TicketDetail:
    ticket = await service.create_ticket(
        session, shop_id=user.shop_id, actor=user_actor(request, user), **body.model_dump()
    )
    return await ticket_detail(session, ticket)


@router.get("/{ticket_id}")
async def get_ticket(ticket_id: Id, session: DB, user: CurrentUser) -> TicketDetail:
    ticket = await service.access_ticket(session, user, ticket_id)
    return await ticket_detail(session, ticket)


@router.patch("/{ticket_id}")
async def update_ticket(
    request: Request, ticket_id: Id, body: TicketUpdate, session: DB, user: CurrentUser
) -> TicketDetail:
    ticket = await service.access_ticket(session, user, ticket_id)
    await service.update_ticket(
        session,
        ticket=ticket,
        actor=user_actor(request, user),
        changes=body.model_dump(exclude_unset=True),
    )
    return await ticket_detail(session, ticket)


@router.post("/{ticket_id}/comments", status_code=201)
async def add_comment(
    request: Request, ticket_id: Id, body: CommentCreate, session: DB, user: CurrentUser
) -> TicketEventRead:
    ticket = await service.access_ticket(session, user, ticket_id)
    event = await service.add_comment(
        session, ticket=ticket, actor=user_actor(request, user), body=body.body
    )
    links = await service.links_for(session, [], [event])
    return event_read(event, links)
