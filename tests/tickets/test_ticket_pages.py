"""Ticket pages: list with filters, the new-ticket form (also from a conversation), the detail
page with timeline and rating, and its htmx forms."""

from __future__ import annotations

import re

from tests.web.data import make_conversation
from tests.web.login import login_as

HTML = {"accept": "text/html"}
HTMX = {"hx-request": "true"}


def _agent(client, demo_shop, index=0):  # type: ignore[no-untyped-def]
    return login_as(client, demo_shop, "agent", index)


def _ticket(client, csrf, **body):  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/tickets", json={"title": "默认标题", **body}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_list_page_filters_by_status_and_searches(app_client, demo_shop):
    csrf = _agent(app_client, demo_shop)
    a = _ticket(app_client, csrf, title="想换大一码的外套")
    b = _ticket(app_client, csrf, title="蓝牙耳机无法连接", type="technical", priority="P2")
    app_client.patch(
        f"/api/v1/tickets/{b['id']}", json={"status": "pending"}, headers={"X-CSRF-Token": csrf}
    )
    page = app_client.get("/tickets", headers=HTML)
    assert page.status_code == 200
    assert a["number"] in page.text
    assert b["number"] in page.text
    pending = app_client.get("/tickets?status=pending", headers=HTML).text
    assert b["number"] in pending
    assert a["number"] not in pending
    found = app_client.get("/tickets?q=外套", headers=HTML).text
    assert a["number"] in found
    assert b["number"] not in found
    technical = app_client.get("/tickets?type=technical&priority=P2", headers=HTML).text
    assert b["number"] in technical
    assert a["number"] not in technical
    # Unknown filter values are ignored, not an error page.
    assert app_client.get("/tickets?status=bogus&priority=P9", headers=HTML).status_code == 200
    mine = app_client.get("/tickets?assignee=none", headers=HTML).text
    assert a["number"] in mine


def test_new_ticket_form_prefills_from_a_conversation_and_creates(
    app_client, demo_shop, sync_engine
):
    conversation_id = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        status="active",
        messages=[("customer", "收到的杯子是碎的")],
    )
    csrf = _agent(app_client, demo_shop)
    form = app_client.get(f"/tickets/new?conversation_id={conversation_id}", headers=HTML)
    assert form.status_code == 200
    assert 'value="收到的杯子是碎的"' in form.text
    assert f'name="conversation_id" value="{conversation_id}"' in form.text
    created = app_client.post(
        "/tickets/new",
        data={
            "csrf_token": csrf,
            "title": "收到的杯子是碎的",
            "type": "after_sale",
            "priority": "P2",
            "description": "需要补发",
            "conversation_id": str(conversation_id),
            "customer_id": str(demo_shop.sample_customer_id),
            "assignee_id": "",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    ticket_url = created.headers["location"]
    assert re.fullmatch(r"/tickets/\d+", ticket_url)
    detail = app_client.get(f"/api/v1{ticket_url}").json()
    assert detail["conversation_id"] == conversation_id
    assert detail["customer"]["id"] == demo_shop.sample_customer_id
    assert detail["type"] == "after_sale"
    assert detail["assignee"] is None


def test_new_ticket_form_shows_errors_and_keeps_the_input(app_client, demo_shop):
    csrf = _agent(app_client, demo_shop)
    response = app_client.post(
        "/tickets/new",
        data={"csrf_token": csrf, "title": "  ", "description": "我写了很多描述", "priority": "P2"},
    )
    assert response.status_code == 422
    assert 'data-testid="ticket-error"' in response.text
    assert "我写了很多描述" in response.text
    no_csrf = app_client.post("/tickets/new", data={"title": "x"})
    assert no_csrf.status_code == 403


def test_detail_page_shows_timeline_rating_and_links(app_client, demo_shop, sync_engine):
    conversation_id = make_conversation(
        sync_engine,
        shop_id=demo_shop.shop_id,
        customer_id=demo_shop.sample_customer_id,
        messages=[("customer", "退款什么时候到")],
        rating=5,
        comment="解决得很快",
    )
    csrf = _agent(app_client, demo_shop)
    ticket = _ticket(app_client, csrf, conversation_id=conversation_id, title="")
    app_client.post(
        f"/api/v1/tickets/{ticket['id']}/comments",
        json={"body": "<b>已催财务</b>"},
        headers={"X-CSRF-Token": csrf},
    )
    page = app_client.get(f"/tickets/{ticket['id']}", headers=HTML)
    assert page.status_code == 200
    assert ticket["number"] in page.text
    assert 'data-testid="rating-value">5<' in page.text
    assert "解决得很快" in page.text
    assert f'href="/customers/{demo_shop.sample_customer_id}"' in page.text
    assert "&lt;b&gt;已催财务&lt;/b&gt;" in page.text  # comments are escaped
    assert page.text.count('data-kind="') == 2


def test_status_buttons_and_reopen_through_htmx(app_client, demo_shop):
    csrf = _agent(app_client, demo_shop)
    ticket = _ticket(app_client, csrf)
    url = f"/tickets/{ticket['id']}/update"
    resolved = app_client.post(
        url, data={"status": "resolved"}, headers={**HTMX, "X-CSRF-Token": csrf}
    )
    assert resolved.status_code == 200
    assert "<html" not in resolved.text  # a fragment for htmx to swap in
    assert 'id="ticket-detail"' in resolved.text
    assert 'data-status="resolved"' in resolved.text
    assert 'data-testid="status-open"' in resolved.text  # the reopen button
    reopened = app_client.post(url, data={"status": "open"}, headers={**HTMX, "X-CSRF-Token": csrf})
    assert 'data-kind="reopened"' in reopened.text
    closed = app_client.post(url, data={"status": "closed"}, headers={**HTMX, "X-CSRF-Token": csrf})
    refused = app_client.post(
        url, data={"status": "pending"}, headers={**HTMX, "X-CSRF-Token": csrf}
    )
    assert closed.status_code == 200
    assert refused.status_code == 409
    assert 'data-testid="ticket-error"' in refused.text
    assert app_client.get(f"/api/v1/tickets/{ticket['id']}").json()["status"] == "closed"


def test_edit_form_changes_fields_and_plain_posts_redirect(app_client, demo_shop):
    csrf = _agent(app_client, demo_shop)
    me = app_client.get("/api/v1/me").json()["id"]
    ticket = _ticket(app_client, csrf)
    response = app_client.post(
        f"/tickets/{ticket['id']}/update",
        data={
            "csrf_token": csrf,
            "title": "新标题",
            "priority": "P1",
            "type": "complaint",
            "assignee_id": str(me),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    detail = app_client.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert (detail["title"], detail["priority"], detail["type"]) == ("新标题", "P1", "complaint")
    assert detail["assignee"]["id"] == me
    bad = app_client.post(
        f"/tickets/{ticket['id']}/update", data={"csrf_token": csrf, "assignee_id": "abc"}
    )
    assert bad.status_code == 422


def test_comment_form_adds_to_the_timeline(app_client, demo_shop):
    csrf = _agent(app_client, demo_shop)
    ticket = _ticket(app_client, csrf)
    added = app_client.post(
        f"/tickets/{ticket['id']}/comments",
        data={"body": "客户同意换货"},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert added.status_code == 200
    assert "客户同意换货" in added.text
    empty = app_client.post(
        f"/tickets/{ticket['id']}/comments",
        data={"body": ""},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert empty.status_code == 422
    assert 'data-testid="ticket-error"' in empty.text


def test_missing_ticket_page_is_a_404_page(app_client, demo_shop):
    _agent(app_client, demo_shop)
    response = app_client.get("/tickets/999999999", headers=HTML)
    assert response.status_code == 404
    assert 'data-testid="error-message"' in response.text
    assert 'data-testid="nav-tickets"' in response.text  # the layout still knows the user
