from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class BotDecision(IdMixin, CreatedAtMixin, Base):
    """What the bot decided for one customer message, kept for audit and script statistics."""

    __tablename__ = "bot_decision"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversation.id"), index=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("message.id"), unique=True)
    script_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("script.id"), default=None)
    intent: Mapped[str | None] = mapped_column(String(100), default=None)
    confidence: Mapped[float] = mapped_column(default=0.0)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    emotion: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    handoff: Mapped[bool] = mapped_column(default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # A supervisor dealt with this unanswered question (attached, turned into a script, ignored).
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
