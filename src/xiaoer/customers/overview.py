"""The staff's customer 360° view, composed for the customer page, the workspace panel and
`GET /api/v1/customers/{id}`.

It reads orders, conversations, ratings and tickets; conversations, surveys and tickets all
depend on customers, so composing the view here, in the view layer, keeps `customers.service`
free of them and the domains acyclic (the `domain layering` import contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.commerce.service import order_read, orders_for_customer
from xiaoer.conversations.inbox import customer_conversations
from xiaoer.customers.models import Customer
from xiaoer.customers.service import mask_email, mask_phone, sees_contact_details
from xiaoer.surveys.service import ratings_for_customer
from xiaoer.tickets.service import tickets_for_customer


@dataclass(frozen=True)
class Customer360:
    customer: Customer
    phone: str | None
    email: str | None
    masked: bool
    orders: list[Any]  # commerce OrderRead, newest first
    conversations: list[dict[str, Any]]  # inbox summaries + "rating", newest first
    tickets: list[Any]  # Ticket rows, newest first
    ratings: list[dict[str, Any]]

    @property
    def average_rating(self) -> float | None:
        if not self.ratings:
            return None
        return round(sum(r["rating"] for r in self.ratings) / len(self.ratings), 1)

    @property
    def total_spent_cents(self) -> int:
        return sum(o.amount_cents for o in self.orders if o.status not in ("unpaid", "refunded"))

    @property
    def open_tickets(self) -> int:
        return sum(1 for t in self.tickets if str(t.status) not in ("resolved", "closed"))


async def customer_360(
    session: AsyncSession, *, viewer: Any, customer: Customer, tz: str, limit: int = 20
) -> Customer360:
    """Profile (contact details masked for agents), orders with shipments and their latest
    tracking event, earlier conversations with their rating, and tickets."""
    orders = await orders_for_customer(
        session, shop_id=customer.shop_id, customer_id=customer.id, limit=limit
    )
    conversations = await customer_conversations(
        session, viewer=viewer, customer_id=customer.id, limit=limit
    )
    ratings = await ratings_for_customer(session, shop_id=customer.shop_id, customer_id=customer.id)
    by_conversation = {r["conversation_id"]: r for r in ratings}
    for summary in conversations:
        summary["rating"] = by_conversation.get(summary["id"])
    full = sees_contact_details(viewer)
    return Customer360(
        customer=customer,
        phone=customer.phone if full else mask_phone(customer.phone),
        email=customer.email if full else mask_email(customer.email),
        masked=not full,
        orders=[order_read(o, tz) for o in orders],
        conversations=conversations,
        tickets=await tickets_for_customer(
            session, shop_id=customer.shop_id, customer_id=customer.id, limit=limit
        ),
        ratings=ratings,
    )
