"""Users administration: JSON API and the /admin/users page; role checks; the agents list."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.web.data import make_conversation
from tests.web.login import login


def _admin(client, demo_shop):  # type: ignore[no-untyped-def]
    admin = demo_shop.login("admin")
    return {"X-CSRF-Token": login(client, admin.username, admin.password)}


def _new_name() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def test_agent_and_supervisor_cannot_open_user_admin(app_client, demo_shop):
    for role in ("agent", "supervisor"):
        account = demo_shop.login(role)
        app_client.cookies.clear()
        csrf = login(app_client, account.username, account.password)
        page = app_client.get("/admin/users", headers={"accept": "text/html"})
        assert page.status_code == 403
        assert 'data-testid="error-message"' in page.text
        assert app_client.get("/api/v1/users").status_code == 403
        created = app_client.post(
            "/api/v1/users",
            json={"username": _new_name(), "password": "long-enough-1"},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 403


def test_admin_creates_a_user_who_can_then_log_in(app_client, demo_shop, sync_engine):
    headers = _admin(app_client, demo_shop)
    name = _new_name()
    response = app_client.post(
        "/api/v1/users",
        json={
            "username": name,
            "password": "brand-new-pass",
            "role": "agent",
            "display_name": "客服 新人",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == name
    assert body["role"] == "agent"
    assert body["is_active"] is True
    assert "password" not in response.text
    assert "password_hash" not in response.text
    listed = {u["username"] for u in app_client.get("/api/v1/users").json()}
    assert name in listed
    with sync_engine.connect() as conn:
        audit = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'user.created' and entity_id = :i"
            ),
            {"i": str(body["id"])},
        ).scalar()
    assert audit == 1
    app_client.cookies.clear()
    login(app_client, name, "brand-new-pass")
    assert app_client.get("/api/v1/me").json()["display_name"] == "客服 新人"


def test_user_creation_rejects_bad_input_with_a_message(app_client, demo_shop):
    headers = _admin(app_client, demo_shop)
    short = app_client.post(
        "/api/v1/users", json={"username": _new_name(), "password": "short"}, headers=headers
    )
    assert short.status_code == 422
    assert short.json()["error"] == "invalid_input"
    assert "password" in short.json()["message"]
    role = app_client.post(
        "/api/v1/users",
        json={"username": _new_name(), "password": "long-enough-1", "role": "owner"},
        headers=headers,
    )
    assert role.status_code == 422
    extra = app_client.post(
        "/api/v1/users",
        json={"username": _new_name(), "password": "long-enough-1", "is_admin": True},
        headers=headers,
    )
    assert extra.status_code == 422
    taken = app_client.post(
        "/api/v1/users",
        json={"username": demo_shop.login("agent").username, "password": "long-enough-1"},
        headers=headers,
    )
    assert taken.status_code == 409
    # Generic: neither the name nor whose it is (usernames are unique across all shops).
    assert taken.json()["error"] == "username_unavailable"
    assert demo_shop.login("agent").username not in taken.json()["message"]


def test_unsafe_requests_without_csrf_token_are_refused(app_client, demo_shop):
    _admin(app_client, demo_shop)
    response = app_client.post(
        "/api/v1/users", json={"username": _new_name(), "password": "long-enough-1"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf"
    wrong = app_client.post(
        "/api/v1/users",
        json={"username": _new_name(), "password": "long-enough-1"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert wrong.status_code == 403


def test_role_change_is_audited_with_before_and_after(app_client, demo_shop, sync_engine):
    headers = _admin(app_client, demo_shop)
    agent = next(u for u in app_client.get("/api/v1/users").json() if u["role"] == "agent")
    response = app_client.patch(
        f"/api/v1/users/{agent['id']}", json={"role": "supervisor"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "supervisor"
    with sync_engine.connect() as conn:
        before, after = conn.execute(
            text(
                "select before, after from audit_entry where action = 'user.updated'"
                " and entity_id = :i order by id desc limit 1"
            ),
            {"i": str(agent["id"])},
        ).one()
    import json

    before = json.loads(before) if isinstance(before, str) else before
    after = json.loads(after) if isinstance(after, str) else after
    assert before == {"role": "agent"}
    assert after == {"role": "supervisor"}


def test_deactivated_user_is_logged_out_and_cannot_log_in(app_client, settings, demo_shop):
    from starlette.testclient import TestClient

    from xiaoer.app import create_app

    target = demo_shop.login("agent", 2)
    with TestClient(create_app(settings)) as agent_client:
        login(agent_client, target.username, target.password)
        me = agent_client.get("/api/v1/me").json()
        headers = _admin(app_client, demo_shop)
        off = app_client.patch(
            f"/api/v1/users/{me['id']}", json={"is_active": False}, headers=headers
        )
        assert off.status_code == 200
        assert off.json()["is_active"] is False
        assert agent_client.get("/api/v1/me").status_code == 401
        agent_client.cookies.clear()
        from tests.web.login import login_form_token

        token = login_form_token(agent_client)
        refused = agent_client.post(
            "/login",
            data={"username": target.username, "password": target.password, "csrf_token": token},
            follow_redirects=False,
        )
        assert refused.status_code == 401
        on = app_client.patch(
            f"/api/v1/users/{me['id']}", json={"is_active": True}, headers=headers
        )
        assert on.json()["is_active"] is True
        login(agent_client, target.username, target.password)


def test_password_reset_ends_old_sessions_and_sets_the_new_password(
    app_client, settings, demo_shop
):
    from starlette.testclient import TestClient

    from xiaoer.app import create_app

    target = demo_shop.login("agent", 1)
    with TestClient(create_app(settings)) as agent_client:
        login(agent_client, target.username, target.password)
        uid = agent_client.get("/api/v1/me").json()["id"]
        headers = _admin(app_client, demo_shop)
        reset = app_client.patch(
            f"/api/v1/users/{uid}", json={"password": "a-fresh-password"}, headers=headers
        )
        assert reset.status_code == 200
        assert agent_client.get("/api/v1/me").status_code == 401
        agent_client.cookies.clear()
        login(agent_client, target.username, "a-fresh-password")


def test_admin_cannot_deactivate_or_demote_themself(app_client, demo_shop):
    headers = _admin(app_client, demo_shop)
    me = app_client.get("/api/v1/me").json()
    response = app_client.patch(
        f"/api/v1/users/{me['id']}", json={"is_active": False}, headers=headers
    )
    assert response.status_code == 403
    demote = app_client.patch(f"/api/v1/users/{me['id']}", json={"role": "agent"}, headers=headers)
    assert demote.status_code == 403


def test_users_of_another_shop_are_not_found(app_client, demo_shop, database_url):
    from tests.conftest import run_async
    from xiaoer.db import make_engine, make_sessionmaker, transaction
    from xiaoer.demo.seed import seed_demo_shop

    suffix = uuid.uuid4().hex[:8]

    async def other_shop():  # type: ignore[no-untyped-def]
        engine = make_engine(database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await seed_demo_shop(
                    session, slug=f"o-{suffix}", username_prefix=f"o{suffix}-", history=False
                )
        finally:
            await engine.dispose()

    other = run_async(other_shop())
    headers = _admin(app_client, demo_shop)
    app_client.cookies.clear()
    oa = other.login("agent")
    login(app_client, oa.username, oa.password)
    foreign_id = app_client.get("/api/v1/me").json()["id"]
    app_client.cookies.clear()
    headers = _admin(app_client, demo_shop)
    response = app_client.patch(
        f"/api/v1/users/{foreign_id}", json={"role": "admin"}, headers=headers
    )
    assert response.status_code == 404
    assert foreign_id not in {u["id"] for u in app_client.get("/api/v1/users").json()}


def test_users_page_creates_resets_and_deactivates_through_forms(app_client, demo_shop):
    csrf = _admin(app_client, demo_shop)["X-CSRF-Token"]
    page = app_client.get("/admin/users")
    assert page.status_code == 200
    assert demo_shop.login("agent").username in page.text
    name = _new_name()
    created = app_client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": name,
            "display_name": "客服 表单",
            "role": "agent",
            "password": "form-password-1",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    users = {u["username"]: u for u in app_client.get("/api/v1/users").json()}
    uid = users[name]["id"]
    assert "客服 表单" in app_client.get("/admin/users").text

    bad = app_client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": _new_name(), "role": "agent", "password": "short"},
    )
    assert bad.status_code == 422
    assert 'data-testid="users-error"' in bad.text

    role = app_client.post(
        f"/admin/users/{uid}",
        data={"csrf_token": csrf, "action": "role", "role": "supervisor"},
        follow_redirects=False,
    )
    assert role.status_code == 303
    off = app_client.post(
        f"/admin/users/{uid}",
        data={"csrf_token": csrf, "action": "deactivate"},
        follow_redirects=False,
    )
    assert off.status_code == 303
    reset = app_client.post(
        f"/admin/users/{uid}",
        data={"csrf_token": csrf, "action": "password", "password": "another-password"},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    after = {u["username"]: u for u in app_client.get("/api/v1/users").json()}[name]
    assert after["role"] == "supervisor"
    assert after["is_active"] is False

    no_csrf = app_client.post(f"/admin/users/{uid}", data={"action": "reactivate"})
    assert no_csrf.status_code == 403


def test_agents_list_shows_staff_with_their_open_chats(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    me = app_client.get("/api/v1/me").json()
    for status in ("active", "active", "closed"):
        make_conversation(
            sync_engine,
            shop_id=demo_shop.shop_id,
            customer_id=demo_shop.sample_customer_id,
            status=status,
            assignee_id=me["id"],
        )
    agents = app_client.get("/api/v1/agents").json()
    assert len(agents) == 5
    mine = next(a for a in agents if a["id"] == me["id"])
    assert mine == {
        "id": me["id"],
        "display_name": agent.display_name,
        "role": "agent",
        "open_chats": 2,
    }
    assert all(a["open_chats"] == 0 for a in agents if a["id"] != me["id"])
