"""The audit log page and API: newest first, filters, paging, before → after, role checks."""

from __future__ import annotations

import uuid

from tests.web.login import login, login_form_token

HTML = {"accept": "text/html"}


def _as(client, demo_shop, role):  # type: ignore[no-untyped-def]
    account = demo_shop.login(role)
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, account.username, account.password)}


def test_agents_cannot_read_the_audit_log(app_client, demo_shop):
    _as(app_client, demo_shop, "agent")
    assert app_client.get("/api/v1/audit").status_code == 403
    assert app_client.get("/admin/audit", headers=HTML).status_code == 403


def test_log_is_newest_first_and_shows_failed_logins(app_client, demo_shop):
    agent = demo_shop.login("agent")
    token = login_form_token(app_client)
    app_client.post(
        "/login", data={"username": agent.username, "password": "wrong!", "csrf_token": token}
    )
    _as(app_client, demo_shop, "supervisor")
    items = app_client.get("/api/v1/audit").json()["items"]
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True)
    assert items[0]["action"] == "auth.login"  # the supervisor's own login, just now
    failed = [e for e in items if e["action"] == "auth.login_failed"]
    assert failed
    assert failed[0]["actor_name"] == agent.username
    assert failed[0]["actor_type"] == "anonymous"


def test_filters_by_action_and_entity_type(app_client, demo_shop):
    headers = _as(app_client, demo_shop, "admin")
    app_client.post("/api/v1/tickets", json={"title": "审计测试"}, headers=headers)
    tickets = app_client.get("/api/v1/audit?entity_type=ticket").json()["items"]
    assert [e["action"] for e in tickets] == ["ticket.created"]
    assert tickets[0]["after"]["title"] == "审计测试"
    created = app_client.get("/api/v1/audit?action=user.created").json()["items"]
    assert len(created) == 5  # the seeded staff
    assert all(e["entity_type"] == "user" for e in created)
    page = app_client.get("/admin/audit?action=ticket.created", headers=HTML)
    assert page.status_code == 200
    assert "审计测试" in page.text
    assert "data-entry-id" in page.text
    assert page.text.count("data-entry-id") == 1


def test_pages_backwards_with_before_id(app_client, demo_shop):
    _as(app_client, demo_shop, "admin")
    everything = app_client.get("/api/v1/audit?limit=200").json()["items"]
    first = app_client.get("/api/v1/audit?limit=3").json()
    assert [e["id"] for e in first["items"]] == [e["id"] for e in everything[:3]]
    assert first["next_before_id"] == first["items"][-1]["id"]
    second = app_client.get(f"/api/v1/audit?limit=3&before_id={first['next_before_id']}").json()
    assert [e["id"] for e in second["items"]] == [e["id"] for e in everything[3:6]]
    last = app_client.get(f"/api/v1/audit?limit=200&before_id={everything[-1]['id'] + 1}").json()
    assert last["next_before_id"] is None
    assert app_client.get("/api/v1/audit?limit=0").status_code == 422
    assert app_client.get("/api/v1/audit?before_id=abc").status_code == 422


def test_changes_show_before_and_after_as_a_readable_diff(app_client, demo_shop):
    headers = _as(app_client, demo_shop, "admin")
    agent = next(u for u in app_client.get("/api/v1/users").json() if u["role"] == "agent")
    app_client.patch(
        f"/api/v1/users/{agent['id']}", json={"display_name": "客服 改名"}, headers=headers
    )
    entry = app_client.get("/api/v1/audit?action=user.updated").json()["items"][0]
    assert entry["before"] == {"display_name": agent["display_name"]}
    assert entry["after"] == {"display_name": "客服 改名"}
    page = app_client.get("/admin/audit?action=user.updated", headers=HTML).text
    assert f"<del>{agent['display_name']}</del> → <ins>客服 改名</ins>" in page


def test_another_shops_entries_stay_hidden(app_client, demo_shop, database_url):
    from tests.conftest import run_async
    from xiaoer.db import make_engine, make_sessionmaker, transaction
    from xiaoer.demo.seed import seed_demo_shop

    suffix = uuid.uuid4().hex[:8]

    async def other():  # type: ignore[no-untyped-def]
        engine = make_engine(database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await seed_demo_shop(
                    session, slug=f"a-{suffix}", username_prefix=f"a{suffix}-", history=False
                )
        finally:
            await engine.dispose()

    theirs = run_async(other())
    _as(app_client, theirs, "admin")  # writes an auth.login entry in their shop
    assert app_client.get("/api/v1/audit?action=auth.login").json()["items"]
    _as(app_client, demo_shop, "supervisor")
    names = {e["actor_name"] for e in app_client.get("/api/v1/audit?limit=200").json()["items"]}
    assert theirs.login("admin").username not in names
    assert demo_shop.login("supervisor").username in names
    page = app_client.get("/admin/audit", headers=HTML).text
    assert theirs.login("admin").username not in page
