from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer import clock
from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class ConversationStatus(enum.StrEnum):
    bot = "bot"  # the bot is answering
    queued = "queued"  # waiting for an agent
    active = "active"  # an agent accepted it
    closed = "closed"


class SenderType(enum.StrEnum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    system = "system"
    note = "note"  # internal note: staff only, never pushed to the customer


class Conversation(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "conversation"
    __table_args__ = (Index("ix_conversation_shop_status", "shop_id", "status"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="webchat")
    status: Mapped[ConversationStatus] = mapped_column(
        Enum(ConversationStatus, native_enum=False, length=20), default=ConversationStatus.bot
    )
    priority: Mapped[int] = mapped_column(default=3)  # 1 = most urgent
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), index=True, default=None
    )
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shop_order.id"), default=None)
    bot_unanswered_turns: Mapped[int] = mapped_column(default=0)
    handoff_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    queued_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_message_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class Message(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "message"
    # A resent client id is stored once: the unique key makes the retry idempotent.
    __table_args__ = (UniqueConstraint("conversation_id", "client_msg_id"),)

    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversation.id"), index=True)
    sender_type: Mapped[SenderType] = mapped_column(Enum(SenderType, native_enum=False, length=20))
    sender_id: Mapped[int | None] = mapped_column(BigId, default=None)
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str | None] = mapped_column(String(64), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConversationRead(Base):
    """How far each staff member has read a conversation (unread badges)."""

    __tablename__ = "conversation_read"

    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversation.id"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_account.id"), primary_key=True)
    last_read_message_id: Mapped[int] = mapped_column(BigId, default=0)
