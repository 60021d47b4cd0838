from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class Customer(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("shop_id", "phone"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)


class VisitorIdentity(IdMixin, CreatedAtMixin, Base):
    """A browser's visitor token; linked to a customer once they identify themselves."""

    __tablename__ = "visitor_identity"
    __table_args__ = (UniqueConstraint("shop_id", "token"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    token: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
