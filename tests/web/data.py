"""Rows the staff-page tests need that the demo seed does not make: conversations with messages
and a survey rating. Written straight into the test database (real tables, no mocks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Engine

from xiaoer.commerce.models import Order
from xiaoer.conversations.models import Conversation, Message
from xiaoer.customers.models import Customer
from xiaoer.surveys.models import SurveyResponse


def rows(sync_engine: Engine, sql: str, **params: Any) -> list[Any]:
    """The result rows of raw SQL on the test database, for assertions straight on the tables."""
    with sync_engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_conversation(
    engine: Engine,
    *,
    shop_id: int,
    customer_id: int,
    messages: list[tuple[str, str]] = (),  # type: ignore[assignment]
    status: str = "closed",
    order_id: int | None = None,
    assignee_id: int | None = None,
    rating: int | None = None,
    comment: str = "",
) -> int:
    """A conversation with `messages` as (sender_type, body), optionally rated."""
    with engine.begin() as conn:
        conversation_id = conn.execute(
            insert(Conversation)
            .values(
                shop_id=shop_id,
                customer_id=customer_id,
                status=status,
                order_id=order_id,
                assignee_id=assignee_id,
                closed_at=now() if status == "closed" else None,
            )
            .returning(Conversation.id)
        ).scalar_one()
        for sender_type, body in messages:
            conn.execute(
                insert(Message).values(
                    conversation_id=conversation_id, sender_type=sender_type, body=body
                )
            )
        if rating is not None:
            conn.execute(
                insert(SurveyResponse).values(
                    shop_id=shop_id,
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    rating=rating,
                    comment=comment,
                )
            )
    return int(conversation_id)


def rate(engine: Engine, *, conversation_id: int, rating: int, comment: str = "") -> None:
    with engine.begin() as conn:
        row = conn.execute(
            select(Conversation.shop_id, Conversation.customer_id).where(
                Conversation.id == conversation_id
            )
        ).one()
        conn.execute(
            insert(SurveyResponse).values(
                shop_id=row.shop_id,
                conversation_id=conversation_id,
                customer_id=row.customer_id,
                rating=rating,
                comment=comment,
            )
        )


def customer_order(engine: Engine, *, customer_id: int) -> Any:
    """One order of the customer that has a shipment with tracking events, else any order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Order.id, Order.order_no, Order.status)
            .where(Order.customer_id == customer_id)
            .order_by(Order.id)
        ).all()
    shipped = [r for r in rows if r.status in ("in_transit", "delivered", "shipped")]
    return (shipped or rows)[0]


def set_customer(engine: Engine, customer_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(Customer).where(Customer.id == customer_id).values(**values))


def customer_phone(engine: Engine, customer_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(Customer.phone).where(Customer.id == customer_id)).scalar())
