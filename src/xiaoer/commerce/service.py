"""Read side of the shop's orders and shipments, for the bot, the workspace and the widget.

Orders load their shipments, and shipments their tracking events (selectin relationships), so an
`Order` returned here is complete. Every lookup is scoped to a shop: order and tracking numbers
are only unique per shop.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from xiaoer.commerce.models import Order, Shipment, TrackingEvent
from xiaoer.commerce.schemas import OrderRead, ShipmentRead, TrackingEventRead

DEFAULT_TZ = "Asia/Shanghai"

ORDER_STATUS_LABELS = {
    "unpaid": "待付款",
    "paid": "已付款，待发货",
    "shipped": "已发货",
    "in_transit": "运输中",
    "delivered": "已签收",
    "return_requested": "退货退款中",
    "refunded": "已退款",
}
SHIPMENT_STATUS_LABELS = {
    "picked_up": "已揽收",
    "in_transit": "运输中",
    "out_for_delivery": "派送中",
    "delivered": "已签收",
    "returning": "退回中",
}
REFUND_STATUS_LABELS = {
    "reviewing": "退款申请审核中",
    "awaiting_return": "审核通过，待您寄回商品",
    "return_shipped": "退货已寄出，待仓库收货",
    "return_received": "仓库已收到退货，退款处理中",
    "succeeded": "退款成功",
    "rejected": "退款申请被驳回",
}
_WEEKDAYS = "一二三四五六日"

# The variables a script answer may use (knowledge validates answers against this list).
ORDER_VARIABLES = (
    "order_no",
    "carrier",
    "tracking_no",
    "shipment_status",
    "eta",
    "refund_status",
    "latest_event",
    "order_status",
    "items",
    "amount",
)
CUSTOMER_VARIABLES = ("customer_name",)
VARIABLE_LABELS = {
    "order_no": "订单号",
    "carrier": "快递公司",
    "tracking_no": "运单号",
    "shipment_status": "物流状态",
    "eta": "预计送达时间",
    "refund_status": "退款状态",
    "latest_event": "最新物流",
    "order_status": "订单状态",
    "items": "商品",
    "amount": "金额",
    "customer_name": "客户称呼",
}


def _compact(number: str) -> str:
    return re.sub(r"[\s-]", "", number).upper()


async def find_order(session: AsyncSession, *, shop_id: int, order_no: str) -> Order | None:
    """The shop's order with this number (case, spaces and dashes ignored)."""
    return await session.scalar(
        select(Order).where(Order.shop_id == shop_id, Order.order_no == _compact(order_no))
    )


async def get_order(session: AsyncSession, *, shop_id: int, order_id: int) -> Order | None:
    order = await session.get(Order, order_id)
    return order if order is not None and order.shop_id == shop_id else None


async def latest_order(session: AsyncSession, *, shop_id: int, customer_id: int) -> Order | None:
    return await session.scalar(
        select(Order)
        .where(Order.shop_id == shop_id, Order.customer_id == customer_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )


async def orders_for_customer(
    session: AsyncSession, *, shop_id: int, customer_id: int, limit: int = 20
) -> list[Order]:
    """Newest first; each with its shipments and their tracking events loaded."""
    result = await session.scalars(
        select(Order)
        .where(Order.shop_id == shop_id, Order.customer_id == customer_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(result)


async def find_shipment_by_tracking(
    session: AsyncSession, *, shop_id: int, tracking_no: str
) -> Shipment | None:
    """The shop's shipment with this waybill number; `shipment.order` is loaded (with its
    shipments and their events)."""
    order = await session.scalar(
        select(Order)
        .join(Shipment, Order.id == Shipment.order_id)
        .where(Order.shop_id == shop_id, Shipment.tracking_no == _compact(tracking_no))
        .order_by(Shipment.id.desc())
        .limit(1)
    )
    if order is None:
        return None
    shipment = next(s for s in order.shipments if s.tracking_no == _compact(tracking_no))
    set_committed_value(shipment, "order", order)
    return shipment


def latest_shipment(order: Order) -> Shipment | None:
    return order.shipments[-1] if order.shipments else None


def latest_event(shipment: Shipment) -> TrackingEvent | None:
    return max(shipment.events, key=lambda e: e.occurred_at) if shipment.events else None


def _local(moment: dt.datetime, tz: str) -> dt.datetime:
    return moment.astimezone(ZoneInfo(tz))


def format_eta(moment: dt.datetime, tz: str = DEFAULT_TZ) -> str:
    """`11月25日（周三）` in the shop's time zone."""
    local = _local(moment, tz)
    return f"{local.month}月{local.day}日（周{_WEEKDAYS[local.weekday()]}）"


def format_event(event: TrackingEvent, tz: str = DEFAULT_TZ) -> str:
    local = _local(event.occurred_at, tz)
    return f"{local:%m-%d %H:%M} {event.description}"


def format_amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def format_items(items: list[Any]) -> str:
    parts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        spec = f"（{item['spec']}）" if item.get("spec") else ""
        parts.append(f"{item.get('name', '')}{spec}×{item.get('quantity', 1)}")
    return "、".join(parts)


def order_status_label(status: str) -> str:
    return ORDER_STATUS_LABELS.get(status, status)


def shipment_status_label(status: str) -> str:
    return SHIPMENT_STATUS_LABELS.get(status, status)


def refund_status_label(status: str | None) -> str:
    if not status:
        return "暂无退款申请"
    return REFUND_STATUS_LABELS.get(status, status)


def order_variables(order: Order, tz: str = DEFAULT_TZ) -> dict[str, str]:
    """Every order variable a script answer may use, as Chinese text for the customer.

    Orders that have not shipped get readable stand-ins (快递公司 "暂未发货", the order status as
    the shipment status) so a logistics answer still reads correctly.
    """
    shipment = latest_shipment(order)
    values = {
        "order_no": order.order_no,
        "order_status": order_status_label(order.status),
        "refund_status": refund_status_label(order.refund_status),
        "items": format_items(order.items),
        "amount": format_amount(order.amount_cents),
    }
    if shipment is None:
        pending = {
            "unpaid": "订单尚未付款，付款后 48 小时内发货",
            "paid": "仓库正在备货，48 小时内发货",
        }
        values.update(
            carrier="暂未发货",
            tracking_no="暂无",
            shipment_status=order_status_label(order.status),
            latest_event=pending.get(order.status, "暂无物流信息"),
            eta="发货后 1-3 天",
        )
        return values
    event = latest_event(shipment)
    values.update(
        carrier=shipment.carrier,
        tracking_no=shipment.tracking_no,
        shipment_status=shipment_status_label(shipment.status),
        latest_event=format_event(event, tz) if event else "暂无物流信息",
        eta=format_eta(shipment.eta, tz) if shipment.eta else "以快递实际派送为准",
    )
    if shipment.status == "delivered" and shipment.delivered_at:
        values["eta"] = format_eta(shipment.delivered_at, tz) + "（已送达）"
    return values


def shipment_read(shipment: Shipment, tz: str = DEFAULT_TZ) -> ShipmentRead:
    event = latest_event(shipment)
    return ShipmentRead(
        id=shipment.id,
        carrier=shipment.carrier,
        tracking_no=shipment.tracking_no,
        status=shipment.status,
        status_label=shipment_status_label(shipment.status),
        shipped_at=shipment.shipped_at,
        eta=shipment.eta,
        eta_label=format_eta(shipment.eta, tz) if shipment.eta else "",
        delivered_at=shipment.delivered_at,
        latest_event=TrackingEventRead(
            occurred_at=event.occurred_at, location=event.location, description=event.description
        )
        if event
        else None,
        events=[
            TrackingEventRead(
                occurred_at=e.occurred_at, location=e.location, description=e.description
            )
            for e in sorted(shipment.events, key=lambda e: e.occurred_at, reverse=True)
        ],
    )


def order_read(order: Order, tz: str = DEFAULT_TZ) -> OrderRead:
    """The JSON shape of an order for the workspace side panel and the API."""
    return OrderRead(
        id=order.id,
        order_no=order.order_no,
        customer_id=order.customer_id,
        status=order.status,
        status_label=order_status_label(order.status),
        items=[i for i in order.items if isinstance(i, dict)],
        items_label=format_items(order.items),
        amount_cents=order.amount_cents,
        address=order.address,
        created_at=order.created_at,
        paid_at=order.paid_at,
        refund_status=order.refund_status,
        refund_status_label=refund_status_label(order.refund_status) if order.refund_status else "",
        refund_amount_cents=order.refund_amount_cents,
        shipments=[shipment_read(s, tz) for s in order.shipments],
    )
