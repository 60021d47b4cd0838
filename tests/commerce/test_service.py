"""Order and shipment look-ups and the template variables the bot fills answers with."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.conftest import in_database
from xiaoer.commerce import service as commerce


def in_session(database_url, work):
    return in_database(database_url, work)


def test_find_order_ignores_case_and_spaces_and_is_scoped_to_the_shop(demo_shop, database_url):
    order_no = demo_shop.sample_order_nos["in_transit"]

    async def work(session):
        found = await commerce.find_order(
            session, shop_id=demo_shop.shop_id, order_no=" " + order_no.lower() + " "
        )
        other_shop = await commerce.find_order(
            session, shop_id=demo_shop.shop_id + 10_000, order_no=order_no
        )
        return found, other_shop

    found, other_shop = in_session(database_url, work)
    assert found is not None
    assert found.order_no == order_no
    assert found.status == "in_transit"
    assert other_shop is None


def test_in_transit_order_variables_name_real_carrier_waybill_and_chinese_status(
    demo_shop, database_url, sync_engine
):
    order_no = demo_shop.sample_order_nos["in_transit"]
    with sync_engine.connect() as conn:
        row = conn.execute(
            text(
                "select s.carrier, s.tracking_no, s.status from shipment s join shop_order o "
                "on o.id = s.order_id where o.order_no = :n and o.shop_id = :s"
            ),
            {"n": order_no, "s": demo_shop.shop_id},
        ).one()

    async def work(session):
        order = await commerce.find_order(session, shop_id=demo_shop.shop_id, order_no=order_no)
        return commerce.order_variables(order)

    values = in_session(database_url, work)
    assert values["order_no"] == order_no
    assert values["carrier"] == row.carrier
    assert values["tracking_no"] == row.tracking_no
    assert values["shipment_status"] == commerce.SHIPMENT_STATUS_LABELS[row.status]
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日（周[一二三四五六日]）", values["eta"])
    assert re.match(r"\d{2}-\d{2} \d{2}:\d{2} ", values["latest_event"])
    assert values["refund_status"] == "暂无退款申请"
    assert set(commerce.ORDER_VARIABLES) <= set(values)


def test_unshipped_order_variables_say_not_shipped_yet(demo_shop, database_url):
    async def work(session):
        order = await commerce.find_order(
            session, shop_id=demo_shop.shop_id, order_no=demo_shop.sample_order_nos["paid"]
        )
        return commerce.order_variables(order)

    values = in_session(database_url, work)
    assert values["carrier"] == "暂未发货"
    assert values["shipment_status"] == "已付款，待发货"


def test_refund_status_is_a_chinese_label(demo_shop, database_url):
    async def work(session):
        order = await commerce.find_order(
            session, shop_id=demo_shop.shop_id, order_no=demo_shop.sample_order_nos["refunded"]
        )
        return commerce.order_variables(order)

    assert in_session(database_url, work)["refund_status"] == "退款成功"


def test_eta_is_shown_in_shanghai_time():
    import datetime as dt

    # 2026-11-24 20:00 UTC is already Wednesday 25 November in Shanghai.
    moment = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)
    assert commerce.format_eta(moment) == "11月25日（周三）"


def test_latest_order_and_customer_orders_are_newest_first(demo_shop, database_url):
    async def work(session):
        cid = demo_shop.sample_customer_id
        latest = await commerce.latest_order(session, shop_id=demo_shop.shop_id, customer_id=cid)
        orders = await commerce.orders_for_customer(
            session, shop_id=demo_shop.shop_id, customer_id=cid
        )
        reads = [commerce.order_read(o) for o in orders]
        return latest, orders, reads

    latest, orders, reads = in_session(database_url, work)
    assert len(orders) >= 7
    assert orders[0].id == latest.id
    assert [o.created_at for o in orders] == sorted((o.created_at for o in orders), reverse=True)
    shipped = [r for r in reads if r.status == "in_transit"]
    assert shipped
    assert shipped[0].shipments[0].latest_event is not None
    assert shipped[0].shipments[0].status_label in commerce.SHIPMENT_STATUS_LABELS.values()


def test_find_shipment_by_tracking_returns_its_order(demo_shop, database_url):
    carrier, tracking_no = next(iter(demo_shop.sample_tracking_nos.items()))

    async def work(session):
        shipment = await commerce.find_shipment_by_tracking(
            session, shop_id=demo_shop.shop_id, tracking_no=tracking_no.lower()
        )
        missing = await commerce.find_shipment_by_tracking(
            session, shop_id=demo_shop.shop_id, tracking_no="SF000000000000"
        )
        return shipment, shipment.order.order_no, missing

    shipment, order_no, missing = in_session(database_url, work)
    assert shipment.carrier == carrier
    assert order_no.startswith("XE")
    assert missing is None
