"""Seed the demo shop 小二优选旗舰店: staff, customers, orders, shipments, the script library
and (with `history`) two weeks of past conversations from `xiaoer.demo.history`.

Content is deterministic for a given slug (seeded random), except order numbers: `XE` + 14
digits, the order date (YYMMDD) and eight digits from the system's random source, unique in the
shop. They must not count up or follow from the slug: an order number with the last four digits
of the recipient's phone is one way a shopper proves who they are in the chat. Rows go in with
bulk inserts: the shop itself takes well under a second apart from hashing the five staff
passwords; the history runs the real bot over its messages and takes a few seconds.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import Role, User
from xiaoer.auth.service import create_user
from xiaoer.commerce.models import Order, Shipment, TrackingEvent
from xiaoer.customers.models import Customer
from xiaoer.demo import catalog
from xiaoer.demo.scripts import DEMO_SCRIPTS
from xiaoer.knowledge.models import (
    Script,
    ScriptAnswer,
    ScriptQuestion,
    ScriptStatus,
    ScriptVersion,
)
from xiaoer.shops.models import Shop

if TYPE_CHECKING:
    from xiaoer.bot.engine import BotRegistry
    from xiaoer.demo.history import HistorySummary

DEMO_LOGINS_SLUG = "demo"
SHOP_NAME = "小二优选旗舰店"
SHOP_TZ = ZoneInfo("Asia/Shanghai")
N_CUSTOMERS = 60
LIBRARY_AGE = dt.timedelta(days=30)
# How many orders of each status; every status of commerce.models.ORDER_STATUSES is present.
ORDER_MIX = {
    "unpaid": 18,
    "paid": 24,
    "shipped": 26,
    "in_transit": 42,
    "delivered": 72,
    "return_requested": 20,
    "refunded": 20,
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    display_name: str


@dataclass(frozen=True)
class DemoShop:
    """What tests and `xiaoer demo` need to know about a seeded shop.

    `sample_order_nos` maps each order status to one order of that status belonging to
    `sample_customer_phone`'s customer; `sample_tracking_nos` maps each carrier to one waybill.
    """

    shop_id: int
    slug: str
    logins: list[DemoLogin] = field(default_factory=list)
    sample_customer_phone: str = ""
    sample_customer_id: int = 0
    sample_order_nos: dict[str, str] = field(default_factory=dict)
    sample_tracking_nos: dict[str, str] = field(default_factory=dict)
    history: HistorySummary | None = None  # the past activity seeded (None: none)

    def login(self, role: str, index: int = 0) -> DemoLogin:
        return [x for x in self.logins if x.role == role][index]


STAFF = [
    ("admin", "店长 王敏", Role.admin, "xiaoer-owner-2026"),
    ("supervisor", "主管 李娜", Role.supervisor, "xiaoer-super-2026"),
    ("agent1", "客服 小美", Role.agent, "xiaoer-agent-2026"),
    ("agent2", "客服 小杰", Role.agent, "xiaoer-agent-2026"),
    ("agent3", "客服 阿强", Role.agent, "xiaoer-agent-2026"),
]

# Carrier name → waybill shape. Shapes follow each carrier's public format closely enough for
# the entity extractor (SF + 12 digits, JD + 2 letters + 11 digits, YT + 13 digits, …).
CARRIERS = ("顺丰速运", "中通快递", "圆通速递", "韵达快递", "京东物流")


def tracking_number(carrier: str, rng: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    if carrier == "顺丰速运":
        return "SF" + rng.choice("1234") + digits(11)
    if carrier == "京东物流":
        return "JD" + rng.choice(["VA", "VB", "VC", "VD"]) + digits(11)
    if carrier == "圆通速递":
        return "YT" + rng.choice("6789") + digits(12)
    if carrier == "中通快递":
        return "7" + rng.choice("35") + digits(rng.choice([10, 11, 12]))
    return rng.choice(["43", "46", "31"]) + digits(rng.choice([11, 13]))  # 韵达快递


def _order_no(day: str, taken: set[str]) -> str:
    while True:
        number = f"XE{day}{secrets.randbelow(10**8):08d}"
        if number not in taken:
            taken.add(number)
            return number


def _phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        if phone not in taken:
            taken.add(phone)
            return phone


def _address(rng: random.Random) -> tuple[str, str]:
    """(full address, destination city)."""
    province, city, districts, streets = rng.choice(catalog.PLACES)
    district = rng.choice(districts)
    estate = rng.choice(catalog.COMMUNITY_NAMES) + rng.choice(catalog.BUILDINGS)
    unit = (
        f"{rng.randint(1, 30)}幢{rng.randint(1, 4)}单元{rng.randint(1, 32)}0{rng.randint(1, 4)}室"
    )
    region = province if province == city else province + city
    return f"{region}{district}{rng.choice(streets)}{rng.randint(1, 999)}号{estate}{unit}", city


def _items(rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    for product in rng.sample(catalog.PRODUCTS, k=rng.choice([1, 1, 1, 2, 2, 3])):
        color = rng.choice(product.colors)
        size = rng.choice(product.sizes) if product.sizes else ""
        qty = rng.choice([1, 1, 1, 1, 2])
        items.append(
            {
                "sku": f"{product.sku}-{product.colors.index(color)}{size}",
                "name": product.name,
                "color": color,
                "size": size,
                "spec": f"{color} / {size}" if size else color,
                "quantity": qty,
                "price_cents": product.price_cents,
            }
        )
    total = sum(i["price_cents"] * i["quantity"] for i in items)
    if total < 9900:
        total += 1000  # shipping fee under the 99-yuan free-shipping line
    return items, total


def _customers(rng: random.Random, shop_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    taken: set[str] = set()
    rows = []
    for i in range(N_CUSTOMERS):
        name = rng.choice(catalog.SURNAMES) + rng.choice(catalog.GIVEN_NAMES)
        phone = _phone(rng, taken)
        email = None
        if rng.random() < 0.4:
            handle = rng.choice(["xiao", "lucky", "sunny", "momo", "coco", "leo", "amy", "tom"])
            email = f"{handle}{rng.randint(100, 99999)}@{rng.choice(catalog.EMAIL_DOMAINS)}"
        tags = sorted(set(rng.sample(catalog.CUSTOMER_TAGS, k=rng.choice([0, 0, 1, 1, 2]))))
        if "新客" in tags and "老客户" in tags:
            tags.remove("老客户")
        if i == 0:
            tags = ["VIP", "老客户"]  # the sample customer
        created = now - dt.timedelta(days=rng.randint(30, 720), minutes=rng.randint(0, 1440))
        rows.append(
            {
                "shop_id": shop_id,
                "name": name,
                "phone": phone,
                "email": email,
                "tags": tags,
                "created_at": created,
            }
        )
    return rows


# Order age in hours (min, max) for each status: recent orders are still moving.
_AGE_HOURS = {
    "unpaid": (0.2, 20),
    "paid": (1, 40),
    "shipped": (12, 48),
    "in_transit": (30, 110),
    "delivered": (120, 1400),
    "return_requested": (150, 400),
    "refunded": (200, 1400),
}
_RETURN_STATES = ("reviewing", "awaiting_return", "return_shipped", "return_received")


def _events(
    rng: random.Random, *, carrier: str, shipped_at: dt.datetime, dest_city: str, stage: str
) -> tuple[list[dict[str, Any]], dt.datetime | None]:
    """Tracking events up to `stage` (picked_up/in_transit/out_for_delivery/delivered)."""
    hub = f"{dest_city.removesuffix('市')}转运中心"
    t = shipped_at
    events = [
        (t, catalog.WAREHOUSE_CITY, f"【杭州市】{carrier}杭州余杭营业点 已揽收"),
    ]
    t += dt.timedelta(hours=rng.uniform(2, 6))
    events.append((t, catalog.WAREHOUSE_CITY, f"快件已到达【{catalog.WAREHOUSE_HUB}】"))
    if stage != "picked_up":
        t += dt.timedelta(hours=rng.uniform(1, 4))
        events.append(
            (
                t,
                catalog.WAREHOUSE_CITY,
                f"运输中，快件已从【{catalog.WAREHOUSE_HUB}】发出，下一站【{hub}】",
            )
        )
        if dest_city != catalog.WAREHOUSE_CITY or rng.random() < 0.5:
            t += dt.timedelta(hours=rng.uniform(6, 30))
            events.append((t, dest_city, f"快件已到达【{hub}】"))
    delivered_at = None
    if stage in ("out_for_delivery", "delivered"):
        t += dt.timedelta(hours=rng.uniform(3, 10))
        courier = rng.choice(catalog.COURIER_NAMES)
        events.append((t, dest_city, f"【{dest_city}】派送中，派件员：{courier}，请保持电话畅通"))
    if stage == "delivered":
        t += dt.timedelta(hours=rng.uniform(1, 5))
        events.append((t, dest_city, f"已签收（{rng.choice(catalog.SIGNERS)}），感谢使用{carrier}"))
        delivered_at = t
    rows = [{"occurred_at": at, "location": loc, "description": d} for at, loc, d in events]
    return rows, delivered_at


def _plan_orders(rng: random.Random) -> list[tuple[int, str]]:
    """(customer index, status) per order. Customer 0 gets one order of every status."""
    plan = [(0, status) for status in ORDER_MIX]
    # Skewed: a few loyal customers order often, most order once or twice.
    weights = [1.0 / (i + 1) ** 0.6 for i in range(N_CUSTOMERS)]
    for status, count in ORDER_MIX.items():
        for idx in rng.choices(range(1, N_CUSTOMERS), weights=weights[1:], k=count - 1):
            plan.append((idx, status))
    return plan


async def seed_demo_shop(
    session: AsyncSession,
    *,
    slug: str = "demo",
    username_prefix: str = "",
    history: bool = True,
    registry: BotRegistry | None = None,
) -> DemoShop:
    """With `history`, also two weeks of past conversations, bot decisions, script usage,
    ratings, proposals and a running A/B test (`xiaoer.demo.history`; trains the bot once)."""
    rng = random.Random(f"xiaoer-demo:{slug}")
    now = clock.now()
    # The demo shop really pays ten times for a fake (its 正品保证 answer says so), so the
    # compliance lint must not flag that wording for it.
    demo_lint = {"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}}
    shop = Shop(slug=slug, name=SHOP_NAME, timezone="Asia/Shanghai", settings={"lint": demo_lint})
    session.add(shop)
    await session.flush()
    actor = Actor.system(shop.id)
    logins = []
    for name, display, role, password in STAFF:
        username = f"{username_prefix}{name}"
        await create_user(
            session,
            shop_id=shop.id,
            username=username,
            password=password,
            role=role,
            display_name=display,
            actor=actor,
        )
        logins.append(DemoLogin(username, password, str(role), display))

    customer_rows = _customers(rng, shop.id, now)
    customer_ids = list(
        await session.scalars(
            insert(Customer).returning(Customer.id, sort_by_parameter_order=True), customer_rows
        )
    )
    sample_phone = customer_rows[0]["phone"]

    # Orders, oldest first so sequence numbers grow with time.
    plan = _plan_orders(rng)
    drafts = []
    for cust_idx, status in plan:
        lo, hi = _AGE_HOURS[status]
        created = now - dt.timedelta(hours=rng.uniform(lo, hi))
        drafts.append((created, cust_idx, status))
    drafts.sort(key=lambda d: d[0])
    taken_numbers: set[str] = set()
    order_rows: list[dict[str, Any]] = []
    extras = []  # per order: (status, destination city, created, customer index)
    for created, cust_idx, status in drafts:
        items, amount = _items(rng)
        address, city = _address(rng)
        day = created.astimezone(SHOP_TZ).strftime("%y%m%d")
        paid_at = None if status == "unpaid" else created + dt.timedelta(minutes=rng.randint(1, 30))
        refund_status = None
        refund_amount = None
        if status == "return_requested":
            refund_status = rng.choice(_RETURN_STATES)
            refund_amount = amount
        elif status == "refunded":
            refund_status = "succeeded"
            refund_amount = amount if rng.random() < 0.8 else amount // 2
        order_no = _order_no(day, taken_numbers)
        order_rows.append(
            {
                "shop_id": shop.id,
                "customer_id": customer_ids[cust_idx],
                "order_no": order_no,
                "items": items,
                "amount_cents": amount,
                "status": status,
                "address": address,
                "paid_at": paid_at,
                "refund_status": refund_status,
                "refund_amount_cents": refund_amount,
                "created_at": created,
            }
        )
        extras.append((status, city, created, cust_idx))
    order_ids = list(
        await session.scalars(
            insert(Order).returning(Order.id, sort_by_parameter_order=True), order_rows
        )
    )

    # Shipments: everything paid and not refunded before dispatch has left the warehouse.
    shipment_rows: list[dict[str, Any]] = []
    shipment_events = []
    for oid, (status, city, created, _) in zip(order_ids, extras, strict=True):
        if status in ("unpaid", "paid"):
            continue
        if status == "refunded" and rng.random() < 0.35:
            continue  # refunded before it shipped (仅退款)
        stage = {
            "shipped": "picked_up",
            "in_transit": rng.choice(["in_transit", "in_transit", "out_for_delivery"]),
        }.get(status, "delivered")
        carrier = rng.choice(CARRIERS)
        shipped_at = created + dt.timedelta(hours=rng.uniform(4, 26))
        shipped_at = min(shipped_at, now - dt.timedelta(hours=2))
        events, delivered_at = _events(
            rng, carrier=carrier, shipped_at=shipped_at, dest_city=city, stage=stage
        )
        # Events must not lie in the future; keep the timeline but end it before now.
        overshoot = events[-1]["occurred_at"] - (now - dt.timedelta(minutes=20))
        if overshoot > dt.timedelta(0):
            for e in events:
                e["occurred_at"] -= overshoot
            shipped_at -= overshoot
            if delivered_at:
                delivered_at -= overshoot
        if delivered_at:
            eta = delivered_at
        else:
            # Still moving: the carrier's promise lies ahead (slow hubs push it back).
            eta = max(
                shipped_at + dt.timedelta(days=rng.choice([2, 3, 3, 4])),
                now + dt.timedelta(hours=rng.randint(8, 60)),
            )
        eta = eta.replace(minute=0, second=0, microsecond=0)
        shipment_rows.append(
            {
                "order_id": oid,
                "carrier": carrier,
                "tracking_no": tracking_number(carrier, rng),
                "status": stage,
                "shipped_at": shipped_at,
                "eta": eta,
                "delivered_at": delivered_at,
                "created_at": shipped_at,
            }
        )
        shipment_events.append(events)
    shipment_ids = list(
        await session.scalars(
            insert(Shipment).returning(Shipment.id, sort_by_parameter_order=True), shipment_rows
        )
    )
    event_rows = [
        {**e, "shipment_id": sid}
        for sid, events in zip(shipment_ids, shipment_events, strict=True)
        for e in events
    ]
    await session.execute(insert(TrackingEvent), event_rows)

    # The published script library; with history it was written before the two weeks began
    # (the history publishes a B wording and starts an A/B test in them).
    library_at = now - LIBRARY_AGE if history else now
    script_rows = [
        {
            "shop_id": shop.id,
            "title": s.title,
            "category": s.category,
            "answer": s.answer,
            "triggers": s.triggers,
            "bot_enabled": s.bot_enabled,
            "status": ScriptStatus.published,
            "published_version": 1,
            "published_at": library_at,
            "created_at": library_at,
            "updated_at": library_at,
        }
        for s in DEMO_SCRIPTS
    ]
    script_ids = list(
        await session.scalars(
            insert(Script).returning(Script.id, sort_by_parameter_order=True), script_rows
        )
    )
    question_rows = [
        {"script_id": sid, "text": q}
        for sid, s in zip(script_ids, DEMO_SCRIPTS, strict=True)
        for q in s.questions
    ]
    await session.execute(insert(ScriptQuestion), question_rows)
    answer_rows = [
        {"script_id": sid, "channel": channel, "variant": variant, "body": body}
        for sid, s in zip(script_ids, DEMO_SCRIPTS, strict=True)
        for (channel, variant), body in s.answers.items()
    ]
    if answer_rows:
        await session.execute(insert(ScriptAnswer), answer_rows)
    # Version 1 of each script is what the bot serves.
    version_rows = [
        {
            "script_id": sid,
            "version": 1,
            "content": {
                "title": s.title,
                "category": s.category,
                "answer": s.answer,
                "answers": [
                    {"channel": c, "variant": v, "body": b}
                    for (c, v), b in sorted(s.answers.items())
                ],
                "triggers": s.triggers,
                "bot_enabled": s.bot_enabled,
                "questions": list(s.questions),
            },
            "note": "demo",
            "created_at": library_at,
        }
        for sid, s in zip(script_ids, DEMO_SCRIPTS, strict=True)
    ]
    await session.execute(insert(ScriptVersion), version_rows)

    sample_orders: dict[str, str] = {}
    for row, (status, _, _, cust_idx) in zip(order_rows, extras, strict=True):
        if cust_idx == 0:
            sample_orders.setdefault(status, str(row["order_no"]))
    sample_tracking: dict[str, str] = {}
    for r in shipment_rows:
        sample_tracking.setdefault(str(r["carrier"]), str(r["tracking_no"]))

    await audit.record(
        session,
        actor=actor,
        action="demo.seeded",
        entity_type="shop",
        entity_id=shop.id,
        after={
            "customers": len(customer_rows),
            "orders": len(order_rows),
            "scripts": len(script_rows),
        },
    )
    await session.flush()
    summary = None
    if history:
        # Imported here: it pulls in the bot (scikit-learn), which a bare seed does not need.
        from xiaoer.demo.history import seed_history

        # Its own random stream: the shop's data above stays the same with or without history.
        summary = await seed_history(
            session,
            shop_id=shop.id,
            rng=random.Random(f"xiaoer-demo-history:{slug}"),
            now=now,
            registry=registry,
        )
    return DemoShop(
        shop_id=shop.id,
        slug=slug,
        logins=logins,
        sample_customer_phone=sample_phone,
        sample_customer_id=customer_ids[0],
        sample_order_nos=sample_orders,
        sample_tracking_nos=sample_tracking,
        history=summary,
    )


async def seed_if_empty(session: AsyncSession) -> DemoShop | None:
    """Seed the `demo` shop when the database has no shop at all (used by `xiaoer demo`)."""
    if await session.scalar(select(Shop.id).limit(1)) is not None:
        return None
    return await seed_demo_shop(session, slug=DEMO_LOGINS_SLUG)


async def demo_shop_summary(session: AsyncSession, *, slug: str) -> DemoShop | None:
    """The demo logins of an already seeded shop (their default passwords), for printing."""
    shop = await session.scalar(select(Shop).where(Shop.slug == slug))
    if shop is None:
        return None
    usernames = {name: (display, role, password) for name, display, role, password in STAFF}
    users = await session.scalars(
        select(User).where(User.shop_id == shop.id, User.username.in_(usernames)).order_by(User.id)
    )
    logins = [
        DemoLogin(u.username, usernames[u.username][2], str(u.role), u.display_name) for u in users
    ]
    return DemoShop(shop_id=shop.id, slug=slug, logins=logins)
