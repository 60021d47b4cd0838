"""Customer 360° JSON for staff: `GET /api/v1/customers/{id}`; the shop's chat identity
secret for admins: `GET /api/v1/customers/identity-secret`, `POST .../identity-secret/rotate`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from xiaoer.audit import service as audit
from xiaoer.bounds import Id
from xiaoer.commerce.schemas import OrderRead
from xiaoer.customers import overview, service, verification
from xiaoer.shops.service import shop_timezone
from xiaoer.web.deps import DB, Admin, CurrentUser, user_actor

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


class IdentitySecretRead(BaseModel):
    """The key the merchant's site signs shopper identity tokens with
    (docs/subsystems/chat-protocol.md, "Verifying the shopper")."""

    secret: str
    created_at: dt.datetime
    rotated_at: dt.datetime | None


def _secret_read(row: Any) -> IdentitySecretRead:
    return IdentitySecretRead(
        secret=row.secret, created_at=row.created_at, rotated_at=row.rotated_at
    )


# Declared before `/{customer_id}` so the path is not taken for a customer id.
@router.get("/identity-secret", responses={403: {"description": "not an admin"}})
async def get_identity_secret(request: Request, session: DB, user: Admin) -> IdentitySecretRead:
    """Admins only; every read is audited (the secret lets its holder sign in any shopper)."""
    row = await verification.identity_secret(session, shop_id=user.shop_id)
    await audit.record(
        session,
        actor=user_actor(request, user),
        action="chat_secret.viewed",
        entity_type="shop",
        entity_id=user.shop_id,
    )
    return _secret_read(row)


@router.post("/identity-secret/rotate", responses={403: {"description": "not an admin"}})
async def rotate_identity_secret(request: Request, session: DB, user: Admin) -> IdentitySecretRead:
    """A new secret at once: tokens signed with the old one stop verifying."""
    row = await verification.rotate_identity_secret(session, shop_id=user.shop_id)
    await audit.record(
        session,
        actor=user_actor(request, user),
        action="chat_secret.rotated",
        entity_type="shop",
        entity_id=user.shop_id,
        after={"rotated_at": row.rotated_at.isoformat() if row.rotated_at else None},
    )
    return _secret_read(row)


class CustomerProfile(BaseModel):
    id: int
    name: str
    phone: str | None
    email: str | None
    # True when phone and e-mail are masked for the caller (agents).
    masked: bool
    tags: list[str]
    created_at: dt.datetime


class ConversationBrief(BaseModel):
    id: int
    status: str
    channel: str
    created_at: str | None
    closed_at: str | None
    assignee: dict[str, Any] | None
    last_message: dict[str, Any] | None
    rating: int | None
    rating_comment: str | None


class TicketBrief(BaseModel):
    id: int
    number: str
    title: str
    status: str
    priority: str
    type: str
    created_at: dt.datetime


class CustomerStats(BaseModel):
    orders: int
    total_spent_cents: int
    conversations: int
    open_tickets: int
    average_rating: float | None


class Customer360Read(BaseModel):
    customer: CustomerProfile
    stats: CustomerStats
    orders: list[OrderRead]
    conversations: list[ConversationBrief]
    tickets: list[TicketBrief]


def customer_360_read(view: overview.Customer360) -> Customer360Read:
    c = view.customer
    return Customer360Read(
        customer=CustomerProfile(
            id=c.id,
            name=c.name,
            phone=view.phone,
            email=view.email,
            masked=view.masked,
            tags=[str(t) for t in (c.tags or [])],
            created_at=c.created_at,
        ),
        stats=CustomerStats(
            orders=len(view.orders),
            total_spent_cents=view.total_spent_cents,
            conversations=len(view.conversations),
            open_tickets=view.open_tickets,
            average_rating=view.average_rating,
        ),
        orders=view.orders,
        conversations=[
            ConversationBrief(
                id=s["id"],
                status=s["status"],
                channel=s["channel"],
                created_at=s["created_at"],
                closed_at=s["closed_at"],
                assignee=s["assignee"],
                last_message=s["last_message"],
                rating=s["rating"]["rating"] if s["rating"] else None,
                rating_comment=s["rating"]["comment"] if s["rating"] else None,
            )
            for s in view.conversations
        ],
        tickets=[
            TicketBrief(
                id=t.id,
                number=t.number,
                title=t.title,
                status=str(t.status),
                priority=t.priority,
                type=str(t.type),
                created_at=t.created_at,
            )
            for t in view.tickets
        ],
    )


@router.get("/{customer_id}")
async def get_customer(customer_id: Id, session: DB, user: CurrentUser) -> Customer360Read:
    """Profile (phone/e-mail masked for agents), orders with shipment status and the latest
    tracking event, earlier conversations with their rating, and tickets."""
    customer = await service.access_customer(session, user, customer_id)
    view = await overview.customer_360(
        session,
        viewer=user,
        customer=customer,
        tz=await shop_timezone(session, shop_id=user.shop_id),
    )
    return customer_360_read(view)
