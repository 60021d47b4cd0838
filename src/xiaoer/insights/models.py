"""Tables of the insights domain: computed results the pages read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer import clock
from xiaoer.db import Base, BigId, IdMixin


class QuestionClusterSnapshot(IdMixin, Base):
    """The last grouping of a period's unanswered questions (computed by the
    `insights.cluster_questions` job): `groups` holds bot decision ids, largest group first."""

    __tablename__ = "question_cluster_snapshot"
    __table_args__ = (UniqueConstraint("shop_id", "first_day", "last_day"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    first_day: Mapped[dt.date] = mapped_column()
    last_day: Mapped[dt.date] = mapped_column()
    threshold: Mapped[float | None] = mapped_column(default=None)
    newest_decision_id: Mapped[int] = mapped_column(BigId, default=0)
    questions: Mapped[int] = mapped_column(Integer, default=0)
    groups: Mapped[list[Any]] = mapped_column(JSON, default=list)
    computed_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
