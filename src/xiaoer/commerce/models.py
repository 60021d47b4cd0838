from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin

ORDER_STATUSES = (
    "unpaid",
    "paid",
    "shipped",
    "in_transit",
    "delivered",
    "return_requested",
    "refunded",
)


class Order(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "shop_order"
    __table_args__ = (UniqueConstraint("shop_id", "order_no"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    order_no: Mapped[str] = mapped_column(String(40))
    items: Mapped[list[Any]] = mapped_column(default=list)
    amount_cents: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), index=True)
    address: Mapped[str] = mapped_column(Text, default="")
    paid_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    refund_status: Mapped[str | None] = mapped_column(String(40), default=None)
    refund_amount_cents: Mapped[int | None] = mapped_column(default=None)

    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", order_by="Shipment.id", lazy="selectin"
    )


class Shipment(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "shipment"

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop_order.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    eta: Mapped[dt.datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    order: Mapped[Order] = relationship(back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        order_by="TrackingEvent.occurred_at", lazy="selectin"
    )


class TrackingEvent(IdMixin, Base):
    __tablename__ = "tracking_event"

    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipment.id"), index=True)
    occurred_at: Mapped[dt.datetime]
    location: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(300))
