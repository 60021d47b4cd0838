"""Tickets through the JSON API: numbering, prefill from a conversation, transitions and
reopen, the timeline, comments, filters and search, access and input checks."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import text

from tests.web.data import customer_order, make_conversation
from tests.web.login import login

NUMBER = re.compile(r"^T\d{8}-\d{4}$")


def _staff(client, demo_shop, role="agent", index=0):  # type: ignore[no-untyped-def]
    account = demo_shop.login(role, index)
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, account.username, account.password)}


def _create(client, headers, **body):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/tickets", json={"title": "退款没到账", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_ticket_gets_a_daily_human_readable_number(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    first = _create(app_client, headers)
    second = _create(app_client, headers)
    assert NUMBER.match(first["number"])
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert first["number"].startswith(f"T{today}-")
    assert int(second["number"][-4:]) == int(first["number"][-4:]) + 1
    assert first["status"] == "new"
    assert first["priority"] == "P3"
    assert first["type"] == "consultation"
    assert first["created_by"]["display_name"] == demo_shop.login("agent").display_name


def test_ticket_from_conversation_takes_customer_order_and_last_customer_message(
    app_client, demo_shop, sync_engine
):
    order = customer_order(sync_engine, customer_id=demo_shop.sample_customer_id)
    conversation_id = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        order_id=order.id,
        status="active",
        messages=[
            ("customer", "你好"),
            ("bot", "您好，请问有什么可以帮您？"),
            ("customer", "  我的快递三天没动了，\n能帮我催一下吗  "),
            ("agent", "好的，我帮您查一下"),
        ],
    )
    headers = _staff(app_client, demo_shop)
    response = app_client.post(
        "/api/v1/tickets",
        json={"conversation_id": conversation_id, "type": "after_sale"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["title"] == "我的快递三天没动了， 能帮我催一下吗"
    assert ticket["customer"]["id"] == demo_shop.sample_customer_id
    assert ticket["order"] == {"id": order.id, "order_no": order.order_no, "status": order.status}
    assert ticket["conversation_id"] == conversation_id
    listed = app_client.get(f"/api/v1/tickets?conversation_id={conversation_id}").json()
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]


def test_long_customer_message_is_shortened_into_the_title(app_client, demo_shop, sync_engine):
    conversation_id = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        messages=[("customer", "衣服" * 80)],
    )
    headers = _staff(app_client, demo_shop)
    ticket = app_client.post(
        "/api/v1/tickets", json={"conversation_id": conversation_id}, headers=headers
    ).json()
    assert len(ticket["title"]) == 60
    assert ticket["title"].endswith("…")


def test_every_change_is_a_timeline_event_with_before_and_after(app_client, demo_shop, sync_engine):
    headers = _staff(app_client, demo_shop)
    agents = {a["display_name"]: a["id"] for a in app_client.get("/api/v1/agents").json()}
    colleague = agents[demo_shop.login("agent", 1).display_name]
    ticket = _create(app_client, headers, description="客户说退款 5 天未到账")
    response = app_client.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"priority": "P1", "assignee_id": colleague, "status": "open", "title": "退款未到账"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["assignee"]["id"] == colleague
    changes = {
        e["field"]: (e["before"], e["after"]) for e in detail["events"] if e["kind"] == "changed"
    }
    assert changes == {
        "title": ("退款没到账", "退款未到账"),
        "priority": ("P3", "P1"),
        "status": ("new", "open"),
        "assignee_id": (None, colleague),
    }
    assert detail["events"][0]["kind"] == "created"
    me = demo_shop.login("agent").display_name
    assert all(e["actor"]["display_name"] == me for e in detail["events"])
    # Sending the same values again changes nothing and writes nothing.
    again = app_client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"priority": "P1"}, headers=headers
    ).json()
    assert len(again["events"]) == len(detail["events"])
    with sync_engine.connect() as conn:
        audited = (
            conn.execute(
                text(
                    "select action from audit_entry where entity_type = 'ticket' and entity_id = :i"
                    " order by id"
                ),
                {"i": str(ticket["id"])},
            )
            .scalars()
            .all()
        )
    assert audited == ["ticket.created", "ticket.updated"]


def test_resolved_and_closed_tickets_can_be_reopened(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    ticket = _create(app_client, headers)
    url = f"/api/v1/tickets/{ticket['id']}"
    resolved = app_client.patch(url, json={"status": "resolved"}, headers=headers).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    reopened = app_client.patch(url, json={"status": "open"}, headers=headers).json()
    assert reopened["status"] == "open"
    assert reopened["resolved_at"] is None
    assert reopened["events"][-1]["kind"] == "reopened"
    assert (reopened["events"][-1]["before"], reopened["events"][-1]["after"]) == (
        "resolved",
        "open",
    )
    closed = app_client.patch(url, json={"status": "closed"}, headers=headers).json()
    assert closed["closed_at"] is not None
    assert closed["allowed_statuses"] == ["open"]
    again = app_client.patch(url, json={"status": "open"}, headers=headers).json()
    assert again["events"][-1]["kind"] == "reopened"
    assert again["closed_at"] is None


def test_closed_ticket_cannot_jump_to_pending(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    ticket = _create(app_client, headers)
    url = f"/api/v1/tickets/{ticket['id']}"
    app_client.patch(url, json={"status": "closed"}, headers=headers)
    refused = app_client.patch(url, json={"status": "pending"}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"] == "invalid_transition"
    back_to_new = app_client.patch(url, json={"status": "new"}, headers=headers)
    assert back_to_new.status_code == 409
    assert app_client.get(url).json()["status"] == "closed"


def test_comments_join_the_timeline(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    ticket = _create(app_client, headers)
    response = app_client.post(
        f"/api/v1/tickets/{ticket['id']}/comments",
        json={"body": "已联系仓库，明天回复"},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "comment"
    detail = app_client.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert [e["kind"] for e in detail["events"]] == ["created", "comment"]
    assert detail["events"][1]["comment"] == "已联系仓库，明天回复"
    empty = app_client.post(
        f"/api/v1/tickets/{ticket['id']}/comments", json={"body": "   "}, headers=headers
    )
    assert empty.status_code == 422
    assert "comment" in empty.json()["message"]


def test_bad_input_gets_422_with_a_message(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    cases = [
        {"title": "x", "priority": "P9"},
        {"title": "x", "type": "refund"},
        {"title": "x" * 201},
        {"title": "   "},
        {"title": "x", "assignee_id": 99_999_999},
        {"title": "x", "customer_id": 99_999_999},
        {"title": "x", "color": "red"},
    ]
    for body in cases:
        response = app_client.post("/api/v1/tickets", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "invalid_input"
        assert response.json()["message"]
    not_json = app_client.post(
        "/api/v1/tickets", content=b"{oops", headers={**headers, "content-type": "application/json"}
    )
    assert not_json.status_code == 422
    ticket = _create(app_client, headers)
    for body in ({"status": "done"}, {"title": None}, {"priority": None}):
        response = app_client.patch(f"/api/v1/tickets/{ticket['id']}", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    assert app_client.get("/api/v1/tickets?status=done").status_code == 422
    assert app_client.get("/api/v1/tickets?page=0").status_code == 422


def test_other_shops_tickets_are_not_found(app_client, demo_shop, other_shop, sync_engine):
    theirs_headers = _staff(app_client, other_shop)
    theirs = _create(app_client, theirs_headers)
    # Their conversation cannot be turned into a ticket of ours either.
    foreign_conversation = make_conversation(
        sync_engine,
        shop_id=other_shop.shop_id,
        customer_id=other_shop.sample_customer_id,
        messages=[("customer", "别人的会话")],
    )
    headers = _staff(app_client, demo_shop)
    url = f"/api/v1/tickets/{theirs['id']}"
    assert app_client.get(url).status_code == 404
    assert app_client.patch(url, json={"status": "closed"}, headers=headers).status_code == 404
    assert (
        app_client.post(f"{url}/comments", json={"body": "hi"}, headers=headers).status_code == 404
    )
    assert (
        app_client.get(f"/tickets/{theirs['id']}", headers={"accept": "text/html"}).status_code
        == 404
    )
    assert theirs["id"] not in [
        t["id"] for t in app_client.get("/api/v1/tickets?per_page=100").json()["items"]
    ]
    stolen = app_client.post(
        "/api/v1/tickets", json={"conversation_id": foreign_conversation}, headers=headers
    )
    assert stolen.status_code == 404
    other_customer = app_client.post(
        "/api/v1/tickets",
        json={"title": "x", "customer_id": other_shop.sample_customer_id},
        headers=headers,
    )
    assert other_customer.status_code == 422


def test_ticket_changes_need_the_csrf_token(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    ticket = _create(app_client, headers)
    assert app_client.post("/api/v1/tickets", json={"title": "x"}).status_code == 403
    assert (
        app_client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"}).status_code
        == 403
    )


def test_list_filters_and_search(app_client, demo_shop):
    headers = _staff(app_client, demo_shop)
    me = app_client.get("/api/v1/me").json()["id"]
    a = _create(
        app_client,
        headers,
        title="尺码不合适想换货",
        type="after_sale",
        priority="P2",
        customer_id=demo_shop.sample_customer_id,
        assignee_id=me,
    )
    b = _create(
        app_client,
        headers,
        title="发票抬头写错",
        type="consultation",
        description="需要重开增值税发票",
    )
    c = _create(app_client, headers, title="商品质量投诉", type="complaint", priority="P1")
    app_client.patch(f"/api/v1/tickets/{c['id']}", json={"status": "pending"}, headers=headers)

    def ids(query: str) -> list[int]:
        response = app_client.get(f"/api/v1/tickets?{query}")
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids("") == [c["id"], b["id"], a["id"]]  # newest first
    assert ids("status=pending") == [c["id"]]
    assert ids(f"assignee_id={me}") == [a["id"]]
    assert ids("unassigned=true") == [c["id"], b["id"]]
    assert ids("priority=P1") == [c["id"]]
    assert ids("type=after_sale") == [a["id"]]
    assert ids(f"customer_id={demo_shop.sample_customer_id}") == [a["id"]]
    assert ids("q=增值税") == [b["id"]]  # description
    assert ids("q=换货") == [a["id"]]  # title
    assert ids(f"q={a['number']}") == [a["id"]]  # number
    assert ids("q=%25") == []  # a literal %, not a wildcard
    page = app_client.get("/api/v1/tickets?per_page=2&page=2").json()
    assert page["total"] == 3
    assert [t["id"] for t in page["items"]] == [a["id"]]


def test_ticket_shows_the_survey_rating_of_its_conversation(app_client, demo_shop, sync_engine):
    conversation_id = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        messages=[("customer", "衣服起球了")],
        rating=4,
        comment="客服很耐心",
    )
    headers = _staff(app_client, demo_shop)
    ticket = app_client.post(
        "/api/v1/tickets", json={"conversation_id": conversation_id}, headers=headers
    ).json()
    assert ticket["rating"]["rating"] == 4
    assert ticket["rating"]["comment"] == "客服很耐心"
    plain = _create(app_client, headers)
    assert plain["rating"] is None


def test_each_shop_numbers_its_own_tickets(app_client, demo_shop, other_shop):
    mine = [_create(app_client, _staff(app_client, demo_shop)) for _ in range(2)]
    app_client.cookies.clear()
    theirs = _create(app_client, _staff(app_client, other_shop))
    # Both shops are new: each starts the day at 0001, and the numbers may coincide.
    assert mine[0]["number"].endswith("-0001")
    assert mine[1]["number"].endswith("-0002")
    assert theirs["number"] == mine[0]["number"]
