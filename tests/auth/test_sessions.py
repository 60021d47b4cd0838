"""Sessions live on the server: logout, password change or reset, deactivation and an admin
end them everywhere, a replayed cookie is worthless afterwards, and admins see who is logged
in where."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from starlette.testclient import TestClient

from tests.web.login import login
from xiaoer.app import create_app


def _client(settings):  # type: ignore[no-untyped-def]
    return TestClient(create_app(settings))


def _session_cookie(client: TestClient) -> str:
    return str(client.cookies.get("xiaoer_session"))


def _replay(settings, cookie: str) -> int:  # type: ignore[no-untyped-def]
    with _client(settings) as other:
        other.cookies.set("xiaoer_session", cookie)
        return other.get("/api/v1/me").status_code


def test_a_cookie_saved_before_logout_is_refused_afterwards(app_client, settings, demo_shop):
    agent = demo_shop.login("agent")
    csrf = login(app_client, agent.username, agent.password)
    stolen = _session_cookie(app_client)
    assert _replay(settings, stolen) == 200
    app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert _replay(settings, stolen) == 401


def test_the_cookie_holds_no_user_id_and_the_table_no_token(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    cookie = _session_cookie(app_client)
    with sync_engine.connect() as conn:
        hashes = (
            conn.execute(
                text(
                    "select s.token_hash from user_session s"
                    " join user_account u on u.id = s.user_id"
                    " where u.username = :u"
                ),
                {"u": agent.username},
            )
            .scalars()
            .all()
        )
    assert len(hashes) == 1
    assert hashes[0] not in cookie


def test_changing_ones_password_ends_the_other_sessions_but_not_this_one(
    app_client, settings, demo_shop
):
    agent = demo_shop.login("agent", 1)
    with _client(settings) as laptop:
        login(laptop, agent.username, agent.password)
        csrf = login(app_client, agent.username, agent.password)
        wrong = app_client.post(
            "/api/v1/me/password",
            json={"current_password": "not-it-at-all", "new_password": "quiet-harbour-lamp-7"},
            headers={"X-CSRF-Token": csrf},
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "current_password_wrong"
        assert laptop.get("/api/v1/me").status_code == 200
        done = app_client.post(
            "/api/v1/me/password",
            json={"current_password": agent.password, "new_password": "quiet-harbour-lamp-7"},
            headers={"X-CSRF-Token": csrf},
        )
        assert done.status_code == 204, done.text
        assert app_client.get("/api/v1/me").status_code == 200
        assert laptop.get("/api/v1/me").status_code == 401
    app_client.cookies.clear()
    login(app_client, agent.username, "quiet-harbour-lamp-7")


def test_the_account_page_changes_the_password_and_explains_refusals(app_client, demo_shop):
    agent = demo_shop.login("agent", 2)
    csrf = login(app_client, agent.username, agent.password)
    page = app_client.get("/account?lang=en")
    assert 'data-testid="password-form"' in page.text
    common = app_client.post(
        "/account/password",
        data={"csrf_token": csrf, "current_password": agent.password, "new_password": "qwertyuiop"},
    )
    assert common.status_code == 422
    assert "most common passwords" in common.text
    ok = app_client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": agent.password,
            "new_password": "amber-teapot-river-9",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert app_client.get("/api/v1/me").status_code == 200


def test_admin_reset_and_deactivation_end_the_users_sessions(app_client, settings, demo_shop):
    admin = demo_shop.login("admin")
    headers = {"X-CSRF-Token": login(app_client, admin.username, admin.password)}
    users = {u["username"]: u["id"] for u in app_client.get("/api/v1/users").json()}
    for index, change in ((0, {"password": "fresh-sailing-boat-3"}), (1, {"is_active": False})):
        agent = demo_shop.login("agent", index)
        with _client(settings) as agent_client:
            login(agent_client, agent.username, agent.password)
            response = app_client.patch(
                f"/api/v1/users/{users[agent.username]}", json=change, headers=headers
            )
            assert response.status_code == 200, response.text
            assert agent_client.get("/api/v1/me").status_code == 401


def test_admin_lists_and_ends_a_users_session_and_it_is_audited(
    app_client, settings, demo_shop, other_shop, sync_engine
):
    admin = demo_shop.login("admin")
    csrf = login(app_client, admin.username, admin.password)
    agent = demo_shop.login("agent")
    with _client(settings) as agent_client, _client(settings) as outsider:
        login(agent_client, agent.username, agent.password)
        uid = next(
            u["id"]
            for u in app_client.get("/api/v1/users").json()
            if u["username"] == agent.username
        )
        listed = app_client.get(f"/api/v1/users/{uid}/sessions").json()
        assert len(listed) == 1
        assert listed[0]["ip"] == "testclient"
        assert "token" not in str(listed[0]).lower()
        page = app_client.get(f"/admin/users/{uid}/sessions", headers={"accept": "text/html"})
        assert f'data-session-id="{listed[0]["id"]}"' in page.text
        # Another shop's admin cannot see or end it (same 404 as a missing session).
        other_admin = other_shop.login("admin")
        other_csrf = login(outsider, other_admin.username, other_admin.password)
        assert outsider.get(f"/api/v1/users/{uid}/sessions").status_code == 404
        refused = outsider.delete(
            f"/api/v1/users/{uid}/sessions/{listed[0]['id']}",
            headers={"X-CSRF-Token": other_csrf},
        )
        assert refused.status_code == 404
        assert agent_client.get("/api/v1/me").status_code == 200
        ended = app_client.post(
            f"/admin/users/{uid}/sessions/{listed[0]['id']}/end",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert ended.status_code == 303
        assert agent_client.get("/api/v1/me").status_code == 401
        assert app_client.get(f"/api/v1/users/{uid}/sessions").json() == []
    with sync_engine.connect() as conn:
        audited = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'auth.session_ended'"
                " and entity_id = :i and actor_name = :a"
            ),
            {"i": str(uid), "a": admin.username},
        ).scalar()
    assert audited == 1


def test_an_idle_session_ends(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("supervisor")
    login(app_client, agent.username, agent.password)
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "update user_session set last_seen_at = :t where user_id ="
                " (select id from user_account where username = :u)"
            ),
            {"t": "2020-01-01 00:00:00+00:00", "u": agent.username},
        )
    assert app_client.get("/api/v1/me").status_code == 401


def test_unknown_username_is_refused_without_revealing_whose_it_is(app_client, demo_shop):
    admin = demo_shop.login("admin")
    headers = {"X-CSRF-Token": login(app_client, admin.username, admin.password)}
    name = f"n-{uuid.uuid4().hex[:8]}"
    first = app_client.post(
        "/api/v1/users", json={"username": name, "password": "calm-forest-walk-4"}, headers=headers
    )
    assert first.status_code == 201
    again = app_client.post(
        "/api/v1/users",
        json={"username": name.upper(), "password": "calm-forest-walk-4"},
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["error"] == "username_unavailable"
    page = app_client.post(
        "/admin/users?lang=en",
        data={
            "csrf_token": headers["X-CSRF-Token"],
            "username": name,
            "role": "agent",
            "password": "calm-forest-walk-4",
        },
    )
    assert page.status_code == 409
    assert "cannot be used" in page.text
