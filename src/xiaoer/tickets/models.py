from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer import clock
from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class TicketType(enum.StrEnum):
    consultation = "consultation"
    after_sale = "after_sale"
    complaint = "complaint"
    technical = "technical"


class TicketStatus(enum.StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    resolved = "resolved"
    closed = "closed"


class Ticket(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "ticket"
    # Each shop numbers its own tickets: T20261207-0001 exists once per shop.
    __table_args__ = (UniqueConstraint("shop_id", "number"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[TicketType] = mapped_column(Enum(TicketType, native_enum=False, length=20))
    priority: Mapped[str] = mapped_column(String(2), default="P3")
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=20), default=TicketStatus.new, index=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), index=True, default=None
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customer.id"), index=True, default=None
    )
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shop_order.id"), default=None)
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversation.id"), index=True, default=None
    )
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), default=None
    )
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class TicketEvent(IdMixin, CreatedAtMixin, Base):
    """One line of a ticket's timeline: who changed what, from what to what."""

    __tablename__ = "ticket_event"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("ticket.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    kind: Mapped[str] = mapped_column(String(30))  # created / changed / comment / reopened
    field: Mapped[str | None] = mapped_column(String(40), default=None)
    before: Mapped[Any] = mapped_column(JSON, default=None)
    after: Mapped[Any] = mapped_column(JSON, default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
