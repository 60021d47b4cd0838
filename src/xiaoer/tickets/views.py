"""Ticket pages: list with filters, new ticket form, detail with timeline (htmx forms).

Forms post normally (full page, redirect after success) and, with htmx, get the detail
fragment back; validation errors come back as the same fragment with the message and a 4xx.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.auth.models import User
from xiaoer.bounds import INT64_MAX, Id
from xiaoer.customers.service import get_customer
from xiaoer.errors import DomainError, InvalidInput
from xiaoer.shops.service import shop_timezone
from xiaoer.surveys.service import rating_for_ticket
from xiaoer.tickets import service
from xiaoer.tickets.models import Ticket, TicketEvent, TicketStatus, TicketType
from xiaoer.web.deps import DB, CurrentUser, user_actor
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
STATUSES = [s.value for s in TicketStatus]
TYPES = [t.value for t in TicketType]


def _translator(request: Request) -> Any:
    locale = request_locale(request, request.app.state.settings.default_locale)
    return lambda key, **kw: translate(locale, key, **kw)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _optional_int(raw: Any, field: str) -> int | None:
    value = str(raw or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a number") from None
    if number < 1:
        raise InvalidInput(f"{field} must be a positive number")
    return number


# ---- list ------------------------------------------------------------------------------------


@router.get("/tickets")
async def tickets_page(
    request: Request,
    session: DB,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=20)] = "",
    assignee: Annotated[str, Query(max_length=20)] = "",
    priority: Annotated[str, Query(max_length=2)] = "",
    type: Annotated[str, Query(max_length=20)] = "",
    customer_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Filters with unknown values are ignored rather than failing the page."""
    assignee_id: Id | None = None
    if assignee == "me":
        assignee_id = user.id
    elif assignee.isdigit():
        assignee_id = int(assignee)
    filters = service.TicketFilters(
        status=TicketStatus(status) if status in STATUSES else None,
        assignee_id=assignee_id,
        unassigned=assignee == "none",
        priority=priority if priority in service.PRIORITIES else None,
        type=TicketType(type) if type in TYPES else None,
        customer_id=customer_id,
        q=q.strip() or None,
    )
    tickets, total = await service.list_tickets(
        session, shop_id=user.shop_id, filters=filters, page=page, per_page=PER_PAGE
    )
    links = await service.links_for(session, tickets)
    customer = links.customers.get(customer_id) if customer_id else None
    params = {
        "status": status,
        "assignee": assignee,
        "priority": priority,
        "type": type,
        "customer_id": customer_id or "",
        "q": q,
    }
    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        "tickets/list.html",
        {
            "tickets": tickets,
            "links": links,
            "total": total,
            "page": page,
            "pages": pages,
            "params": params,
            "query": {k: v for k, v in params.items() if v},
            "filter_customer": customer,
            "staff": await service.assignable_staff(session, shop_id=user.shop_id),
            "statuses": STATUSES,
            "types": TYPES,
            "priorities": service.PRIORITIES,
            "tz": await shop_timezone(session, shop_id=user.shop_id),
        },
    )


# ---- new -------------------------------------------------------------------------------------


async def _new_form(
    request: Request,
    session: AsyncSession,
    user: User,
    form: dict[str, Any],
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    links = await service.links_for(session, [])
    customer_id, order_id = form.get("customer_id"), form.get("order_id")
    if customer_id or order_id:
        probe = Ticket(customer_id=customer_id, order_id=order_id)
        links = await service.links_for(session, [probe])
    return render(
        request,
        "tickets/new.html",
        {
            "form": form,
            "error": error,
            "customer": links.customers.get(customer_id) if customer_id else None,
            "order": links.orders.get(order_id) if order_id else None,
            "staff": await service.assignable_staff(session, shop_id=user.shop_id),
            "types": TYPES,
            "priorities": service.PRIORITIES,
        },
        status_code,
    )


@router.get("/tickets/new")
async def new_ticket_page(
    request: Request,
    session: DB,
    user: CurrentUser,
    conversation_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> Response:
    """`?conversation_id=` prefills customer, order and title from the chat."""
    form: dict[str, Any] = {"type": "consultation", "priority": "P3", "assignee_id": user.id}
    if conversation_id is not None:
        prefill = await service.prefill_from_conversation(
            session, shop_id=user.shop_id, conversation_id=conversation_id
        )
        form.update(
            conversation_id=prefill.conversation_id,
            customer_id=prefill.customer_id,
            order_id=prefill.order_id,
            title=prefill.title,
        )
    elif customer_id is not None:
        customer = await get_customer(session, shop_id=user.shop_id, customer_id=customer_id)
        form["customer_id"] = customer.id
    return await _new_form(request, session, user, form)


@router.post("/tickets/new")
async def create_ticket_form(request: Request, session: DB, user: CurrentUser) -> Response:
    raw = await request.form()
    form: dict[str, Any] = {
        k: str(raw.get(k, "")).strip()
        for k in ("title", "description", "type", "priority", "assignee_id")
    }
    try:
        for key in ("assignee_id", "customer_id", "order_id", "conversation_id"):
            form[key] = _optional_int(raw.get(key), key)
        ticket = await service.create_ticket(
            session,
            shop_id=user.shop_id,
            actor=user_actor(request, user),
            title=form["title"],
            description=form["description"],
            type=form["type"] or "consultation",
            priority=form["priority"] or "P3",
            assignee_id=form["assignee_id"],
            customer_id=form["customer_id"],
            order_id=form["order_id"],
            conversation_id=form["conversation_id"],
        )
    except DomainError as exc:
        for key in ("customer_id", "order_id", "conversation_id"):
            if not isinstance(form.get(key), int):
                form[key] = None
        return await _new_form(
            request, session, user, form, error=exc.message, status_code=exc.status_code
        )
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


# ---- detail ----------------------------------------------------------------------------------


def _value_label(t: Any, field: str | None, value: Any, links: service.TicketLinks) -> str:
    if value is None or value == "":
        return t("common.none")
    if field == "status":
        return str(t(f"tickets.status.{value}"))
    if field == "type":
        return str(t(f"tickets.type.{value}"))
    if field == "assignee_id":
        user = links.users.get(value)
        return user.display_name if user else f"#{value}"
    if field == "customer_id":
        customer = links.customers.get(value)
        return customer.name if customer else f"#{value}"
    if field == "order_id":
        order = links.orders.get(value)
        return order.order_no if order else f"#{value}"
    return str(value)


def describe_events(
    t: Any, events: list[TicketEvent], links: service.TicketLinks
) -> list[dict[str, Any]]:
    """Timeline lines with every id turned into a name and every code into words."""
    lines = []
    for e in events:
        actor = links.users.get(e.actor_id) if e.actor_type == "user" and e.actor_id else None
        lines.append(
            {
                "id": e.id,
                "kind": e.kind,
                "actor": actor.display_name if actor else t(f"tickets.actor.{e.actor_type}"),
                "at": e.created_at,
                "field": t(f"tickets.field.{e.field}") if e.field else "",
                "field_code": e.field,
                "before": _value_label(t, e.field, e.before, links),
                "after": _value_label(t, e.field, e.after, links),
                "comment": e.comment or "",
            }
        )
    return lines


async def _detail_context(
    request: Request, session: AsyncSession, user: User, ticket: Ticket
) -> dict[str, Any]:
    events = await service.timeline(session, ticket=ticket)
    links = await service.links_for(session, [ticket], events)
    return {
        "ticket": ticket,
        "links": links,
        "timeline": describe_events(_translator(request), events, links),
        "rating": await rating_for_ticket(session, ticket=ticket),
        "allowed": service.allowed_statuses(ticket.status),
        "staff": await service.assignable_staff(session, shop_id=user.shop_id),
        "types": TYPES,
        "priorities": service.PRIORITIES,
        "tz": await shop_timezone(session, shop_id=user.shop_id),
    }


async def _render_detail(
    request: Request,
    session: AsyncSession,
    user: User,
    ticket: Ticket,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    ctx = await _detail_context(request, session, user, ticket)
    ctx["error"] = error
    name = "tickets/_detail.html" if _is_htmx(request) else "tickets/detail.html"
    return render(request, name, ctx, status_code)


@router.get("/tickets/{ticket_id}")
async def ticket_page(request: Request, ticket_id: Id, session: DB, user: CurrentUser) -> Response:
    ticket = await service.access_ticket(session, user, ticket_id)
    return await _render_detail(request, session, user, ticket)


@router.post("/tickets/{ticket_id}/update")
async def update_ticket_form(
    request: Request, ticket_id: Id, session: DB, user: CurrentUser
) -> Response:
    """Changes the fields present in the form (a status button sends only `status`)."""
    ticket = await service.access_ticket(session, user, ticket_id)
    raw = await request.form()
    try:
        changes: dict[str, Any] = {
            k: str(raw[k]).strip()
            for k in ("title", "description", "type", "priority", "status")
            if k in raw
        }
        if "assignee_id" in raw:
            changes["assignee_id"] = _optional_int(raw.get("assignee_id"), "assignee_id")
        await service.update_ticket(
            session, ticket=ticket, actor=user_actor(request, user), changes=changes
        )
    except DomainError as exc:
        return await _render_detail(
            request, session, user, ticket, error=exc.message, status_code=exc.status_code
        )
    if not _is_htmx(request):
        return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)
    return await _render_detail(request, session, user, ticket)


@router.post("/tickets/{ticket_id}/comments")
async def comment_form(request: Request, ticket_id: Id, session: DB, user: CurrentUser) -> Response:
    ticket = await service.access_ticket(session, user, ticket_id)
    raw = await request.form()
    try:
        await service.add_comment(
            session, ticket=ticket, actor=user_actor(request, user), body=str(raw.get("body", ""))
        )
    except DomainError as exc:
        return await _render_detail(
            request, session, user, ticket, error=exc.message, status_code=exc.status_code
        )
    if not _is_htmx(request):
        return RedirectResponse(f"/tickets/{ticket.id}#timeline", status_code=303)
    return await _render_detail(request, session, user, ticket)
