"""Read models of orders and shipments (JSON for the workspace and API)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class TrackingEventRead(BaseModel):
    occurred_at: dt.datetime
    location: str
    description: str


class ShipmentRead(BaseModel):
    id: int
    carrier: str
    tracking_no: str
    status: str
    status_label: str
    shipped_at: dt.datetime | None
    eta: dt.datetime | None
    eta_label: str
    delivered_at: dt.datetime | None
    latest_event: TrackingEventRead | None
    events: list[TrackingEventRead]


class OrderRead(BaseModel):
    id: int
    order_no: str
    customer_id: int
    status: str
    status_label: str
    items: list[dict[str, Any]]
    items_label: str
    amount_cents: int
    address: str
    created_at: dt.datetime
    paid_at: dt.datetime | None
    refund_status: str | None
    refund_status_label: str
    refund_amount_cents: int | None
    shipments: list[ShipmentRead]
