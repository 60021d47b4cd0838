from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class AuditEntry(IdMixin, CreatedAtMixin, Base):
    """Append-only: who did what to which thing, with the state before and after."""

    __tablename__ = "audit_entry"

    shop_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(20))  # user / bot / automation / system
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(50), index=True)
    entity_type: Mapped[str] = mapped_column(String(50), default="")
    entity_id: Mapped[str] = mapped_column(String(50), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
