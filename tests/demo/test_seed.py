"""The seeded demo shop has realistic, complete data that the bot and workspace rely on."""

from __future__ import annotations

import itertools
import re
import uuid

from sqlalchemy import text

from tests.conftest import run_async
from xiaoer.commerce.models import ORDER_STATUSES
from xiaoer.db import make_engine, make_sessionmaker, transaction
from xiaoer.demo.seed import seed_demo_shop, seed_if_empty

TRACKING_SHAPES = {
    "顺丰速运": r"SF\d{12}",
    "京东物流": r"JD[A-Z]{2}\d{11}",
    "中通快递": r"\d{12,15}",
    "圆通速递": r"YT\d{13}",
    "韵达快递": r"\d{13,15}",
}


def _rows(sync_engine, sql, **params):
    with sync_engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_demo_shop_has_customers_with_unique_mobile_numbers(demo_shop, sync_engine):
    rows = _rows(
        sync_engine,
        "select name, phone, email, tags from customer where shop_id = :s",
        s=demo_shop.shop_id,
    )
    assert len(rows) >= 50
    phones = [r.phone for r in rows]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    assert any(r.email for r in rows)
    assert all(r.name for r in rows)


def test_demo_orders_cover_every_status_with_unique_numbers(demo_shop, sync_engine):
    rows = _rows(
        sync_engine,
        "select order_no, status, amount_cents, items, address, refund_status, paid_at "
        "from shop_order where shop_id = :s",
        s=demo_shop.shop_id,
    )
    assert len(rows) >= 200
    assert {r.status for r in rows} == set(ORDER_STATUSES)
    numbers = [r.order_no for r in rows]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"XE\d{14}", n) for n in numbers)
    # Not a sequence: the last eight digits are spread over their whole range, so knowing one
    # order number says nothing about the next.
    suffixes = sorted(int(n[-8:]) for n in numbers)
    assert suffixes[-1] - suffixes[0] > 10**7
    assert sum(1 for a, b in itertools.pairwise(suffixes) if b - a == 1) <= 1
    assert all(r.amount_cents > 0 and r.address for r in rows)
    for r in rows:
        if r.status in ("return_requested", "refunded"):
            assert r.refund_status
        assert (r.paid_at is None) == (r.status == "unpaid")


def test_shipments_have_carrier_shaped_waybills_and_tracking_events(demo_shop, sync_engine):
    shipments = _rows(
        sync_engine,
        "select s.id, s.carrier, s.tracking_no, s.status, s.eta, o.status as order_status "
        "from shipment s join shop_order o on o.id = s.order_id where o.shop_id = :s",
        s=demo_shop.shop_id,
    )
    assert {s.carrier for s in shipments} == set(TRACKING_SHAPES)
    for s in shipments:
        assert re.fullmatch(TRACKING_SHAPES[s.carrier], s.tracking_no), s
        assert s.eta is not None
        assert s.order_status not in ("unpaid", "paid")
    counts = dict(
        _rows(
            sync_engine,
            "select e.shipment_id, count(*) from tracking_event e join shipment s "
            "on s.id = e.shipment_id join shop_order o on o.id = s.order_id "
            "where o.shop_id = :s group by e.shipment_id",
            s=demo_shop.shop_id,
        )
    )
    assert set(counts) == {s.id for s in shipments}
    assert all(2 <= n <= 6 for n in counts.values())
    delivered = [s for s in shipments if s.status == "delivered"]
    descriptions = {
        r[0]
        for r in _rows(
            sync_engine,
            "select description from tracking_event where shipment_id = :i",
            i=delivered[0].id,
        )
    }
    assert any("已签收" in d for d in descriptions)
    assert any("已揽收" in d for d in descriptions)


def test_demo_scripts_are_published_with_question_variants(demo_shop, sync_engine):
    scripts = _rows(
        sync_engine,
        "select s.id, s.category, s.answer, count(q.id) as n from script s "
        "join script_question q on q.script_id = s.id "
        "where s.shop_id = :s and s.status = 'published' group by s.id, s.category, s.answer",
        s=demo_shop.shop_id,
    )
    assert len(scripts) >= 60
    assert all(5 <= s.n <= 10 for s in scripts)
    assert any("{carrier}" in s.answer for s in scripts)
    assert {"咨询/物流", "售后/退换货", "投诉/质量"} <= {s.category for s in scripts}


def test_sample_orders_belong_to_the_sample_customer(demo_shop, sync_engine):
    assert set(demo_shop.sample_order_nos) == set(ORDER_STATUSES)
    rows = _rows(
        sync_engine,
        "select o.order_no, o.status, c.phone from shop_order o join customer c "
        "on c.id = o.customer_id where o.shop_id = :s",
        s=demo_shop.shop_id,
    )
    by_no = {r.order_no: r for r in rows}
    for status, order_no in demo_shop.sample_order_nos.items():
        assert by_no[order_no].status == status
        assert by_no[order_no].phone == demo_shop.sample_customer_phone
    assert set(demo_shop.sample_tracking_nos) == set(TRACKING_SHAPES)


def test_seeding_is_deterministic_per_slug(database_url):
    slug = f"det-{uuid.uuid4().hex[:8]}"
    query = text(
        "select c.phone, o.order_no, o.status, o.amount_cents from shop_order o "
        "join customer c on c.id = o.customer_id where o.shop_id = :s order by o.id"
    )

    async def seed_and_read(slug: str, prefix: str, *, keep: bool):
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                trans = await session.begin()
                shop = await seed_demo_shop(
                    session, slug=slug, username_prefix=prefix, history=False
                )
                rows = (await session.execute(query, {"s": shop.shop_id})).all()
                await (trans.commit() if keep else trans.rollback())
                return rows
        finally:
            await engine.dispose()

    first = run_async(seed_and_read(slug, f"{slug}-", keep=False))
    again = run_async(seed_and_read(slug, f"{slug}-", keep=True))
    other = run_async(seed_and_read(slug + "x", f"{slug}x-", keep=False))
    assert [(r.phone, r.status, r.amount_cents) for r in first] == [
        (r.phone, r.status, r.amount_cents) for r in again
    ]
    assert [r.phone for r in other] != [r.phone for r in first]
    assert not {r.order_no for r in other} & {r.order_no for r in first}


def test_seed_if_empty_does_nothing_when_a_shop_exists(demo_shop, database_url):
    async def run():
        engine = make_engine(database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await seed_if_empty(session)
        finally:
            await engine.dispose()

    assert run_async(run()) is None


def test_shipments_still_moving_are_expected_in_the_future(demo_shop, sync_engine):
    import datetime as dt

    rows = _rows(
        sync_engine,
        "select s.eta, s.status from shipment s join shop_order o on o.id = s.order_id "
        "where o.shop_id = :s and s.status != 'delivered'",
        s=demo_shop.shop_id,
    )
    assert rows
    now = dt.datetime.now(dt.UTC)
    for r in rows:
        eta = r.eta if isinstance(r.eta, dt.datetime) else dt.datetime.fromisoformat(str(r.eta))
        eta = eta.astimezone(dt.UTC) if eta.tzinfo else eta.replace(tzinfo=dt.UTC)
        assert eta > now - dt.timedelta(hours=1)
