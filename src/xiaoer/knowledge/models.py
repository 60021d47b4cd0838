from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin, utcnow


class ScriptStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    retired = "retired"


class Script(IdMixin, CreatedAtMixin, Base):
    """An approved answer (话术) with the customer questions it answers."""

    __tablename__ = "script"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[ScriptStatus] = mapped_column(
        Enum(ScriptStatus, native_enum=False, length=20), default=ScriptStatus.draft
    )
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    questions: Mapped[list[ScriptQuestion]] = relationship(
        order_by="ScriptQuestion.id", lazy="selectin", cascade="all, delete-orphan"
    )


class ScriptQuestion(IdMixin, Base):
    """One way customers ask the script's question (a question variant)."""

    __tablename__ = "script_question"

    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"), index=True)
    text: Mapped[str] = mapped_column(String(500))
