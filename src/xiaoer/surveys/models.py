from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class SurveyResponse(IdMixin, CreatedAtMixin, Base):
    """The customer's rating of one closed conversation (CSAT, 1–5)."""

    __tablename__ = "survey_response"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversation.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    rating: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
