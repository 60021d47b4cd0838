"""Customer 360°: JSON, the workspace panel fragment and the full page; masking and access."""

from __future__ import annotations

from tests.web.data import customer_order, customer_phone, make_conversation, set_customer
from tests.web.login import login_as
from xiaoer.demo.seed import CARRIERS

HTML = {"accept": "text/html"}


def _as(client, demo_shop, role):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    return login_as(client, demo_shop, role)


def test_agents_see_a_masked_phone_supervisors_the_real_one(app_client, demo_shop, sync_engine):
    phone = customer_phone(sync_engine, demo_shop.sample_customer_id)
    url = f"/api/v1/customers/{demo_shop.sample_customer_id}"
    _as(app_client, demo_shop, "agent")
    agent_view = app_client.get(url).json()["customer"]
    assert agent_view["phone"] == phone[:3] + "****" + phone[-4:]
    assert agent_view["masked"] is True
    assert phone not in app_client.get(url).text
    panel = app_client.get(f"/workspace/customers/{demo_shop.sample_customer_id}/panel")
    assert phone not in panel.text
    assert phone[:3] + "****" + phone[-4:] in panel.text
    _as(app_client, demo_shop, "supervisor")
    supervisor_view = app_client.get(url).json()["customer"]
    assert supervisor_view["phone"] == phone
    assert supervisor_view["masked"] is False


def test_profile_lists_orders_with_shipment_and_latest_tracking_event(
    app_client, demo_shop, sync_engine
):
    order = customer_order(sync_engine, customer_id=demo_shop.sample_customer_id)
    _as(app_client, demo_shop, "agent")
    data = app_client.get(f"/api/v1/customers/{demo_shop.sample_customer_id}").json()
    orders = {o["order_no"]: o for o in data["orders"]}
    assert set(demo_shop.sample_order_nos.values()) <= set(orders)
    assert data["stats"]["orders"] == len(data["orders"])
    shipped = orders[order.order_no]
    assert shipped["shipments"], shipped
    shipment = shipped["shipments"][-1]
    assert shipment["carrier"] in CARRIERS
    assert shipment["status"]
    latest = shipment["latest_event"]
    assert latest is not None
    assert latest["occurred_at"] == max(e["occurred_at"] for e in shipment["events"])
    # Newest order first.
    created = [o["created_at"] for o in data["orders"]]
    assert created == sorted(created, reverse=True)


def test_profile_lists_earlier_conversations_with_rating_and_tickets(
    app_client, demo_shop, sync_engine
):
    rated = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        messages=[("customer", "什么时候发货")],
        rating=3,
        comment="回复有点慢",
    )
    unrated = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        status="active",
        messages=[("customer", "在吗")],
    )
    csrf = _as(app_client, demo_shop, "agent")
    ticket = app_client.post(
        "/api/v1/tickets", json={"conversation_id": rated}, headers={"X-CSRF-Token": csrf}
    ).json()
    data = app_client.get(f"/api/v1/customers/{demo_shop.sample_customer_id}").json()
    conversations = {c["id"]: c for c in data["conversations"]}
    assert conversations[rated]["rating"] == 3
    assert conversations[rated]["rating_comment"] == "回复有点慢"
    assert conversations[rated]["status"] == "closed"
    assert conversations[unrated]["rating"] is None
    assert [c["id"] for c in data["conversations"]][:2] == [unrated, rated]
    assert [t["number"] for t in data["tickets"]] == [ticket["number"]]
    assert data["stats"]["open_tickets"] == 1
    assert data["stats"]["average_rating"] == 3.0
    panel = app_client.get(f"/workspace/customers/{demo_shop.sample_customer_id}/panel").text
    assert ticket["number"] in panel
    assert "回复有点慢" in panel
    page = app_client.get(f"/customers/{demo_shop.sample_customer_id}", headers=HTML)
    assert page.status_code == 200
    assert ticket["number"] in page.text
    assert "<html" in page.text


def test_panel_is_a_fragment_and_escapes_customer_data(app_client, demo_shop, sync_engine):
    evil = "<img src=x onerror=alert(1)>"
    set_customer(
        sync_engine, demo_shop.sample_customer_id, name=evil, tags=["VIP", "<script>x</script>"]
    )
    _as(app_client, demo_shop, "agent")
    panel = app_client.get(f"/workspace/customers/{demo_shop.sample_customer_id}/panel")
    assert panel.status_code == 200
    assert "<html" not in panel.text
    assert "topbar" not in panel.text
    assert 'data-testid="customer-360"' in panel.text
    assert evil not in panel.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel.text
    assert "<script>x</script>" not in panel.text
    page = app_client.get(f"/customers/{demo_shop.sample_customer_id}", headers=HTML)
    assert evil not in page.text


def test_other_shops_customers_are_not_found(app_client, demo_shop, other_shop):
    _as(app_client, demo_shop, "agent")
    foreign = other_shop.sample_customer_id
    assert app_client.get(f"/api/v1/customers/{foreign}").status_code == 404
    assert app_client.get(f"/api/v1/customers/{foreign}").json()["error"] == "not_found"
    assert app_client.get(f"/workspace/customers/{foreign}/panel").status_code == 404
    assert app_client.get(f"/customers/{foreign}", headers=HTML).status_code == 404
    assert app_client.get("/api/v1/customers/abc").status_code == 422


def test_customer_views_need_a_login(app_client, demo_shop):
    assert app_client.get(f"/api/v1/customers/{demo_shop.sample_customer_id}").status_code == 401
    assert (
        app_client.get(f"/workspace/customers/{demo_shop.sample_customer_id}/panel").status_code
        == 401
    )


def test_customer_without_orders_or_conversations_renders(app_client, demo_shop, sync_engine):
    from sqlalchemy import insert

    from xiaoer.customers.models import Customer

    with sync_engine.begin() as conn:
        cid = conn.execute(
            insert(Customer)
            .values(shop_id=demo_shop.shop_id, name="新客", tags=[])
            .returning(Customer.id)
        ).scalar_one()
    _as(app_client, demo_shop, "agent")
    data = app_client.get(f"/api/v1/customers/{cid}").json()
    assert data["orders"] == []
    assert data["conversations"] == []
    assert data["tickets"] == []
    assert data["customer"]["phone"] is None
    assert data["stats"]["average_rating"] is None
    assert app_client.get(f"/workspace/customers/{cid}/panel").status_code == 200
    assert app_client.get(f"/customers/{cid}", headers=HTML).status_code == 200
