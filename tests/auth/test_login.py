"""Login, logout, the login form's own CSRF protection and the failed-login limit."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from tests.conftest import run_async
from tests.web.login import login, login_form_token
from xiaoer.auth.throttle import LoginThrottle
from xiaoer.ratelimit import MemoryRateLimiter


def _post_login(client: TestClient, username: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    token = login_form_token(client)
    data = {"username": username, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, follow_redirects=False)


def test_login_sets_httponly_lax_session_cookie_and_redirects_to_workspace(app_client, demo_shop):
    agent = demo_shop.login("agent")
    response = _post_login(app_client, agent.username, agent.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/workspace"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("xiaoer_session=")
    )
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here
    me = app_client.get("/api/v1/me").json()
    assert me["username"] == agent.username
    assert me["role"] == "agent"
    assert me["csrf_token"]


def test_login_over_https_marks_the_cookie_secure(settings, demo_shop):
    from xiaoer.app import create_app

    with TestClient(create_app(settings), base_url="https://testserver") as client:
        admin = demo_shop.login("admin")
        response = _post_login(client, admin.username, admin.password)
        assert response.status_code == 303
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("xiaoer_session=")
        )
        assert "secure" in cookie.lower()


def test_wrong_password_shows_the_form_again_and_is_audited(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent", 1)
    response = _post_login(app_client, agent.username, "not-the-password")
    assert response.status_code == 401
    assert 'data-testid="login-error"' in response.text
    assert 'name="csrf_token"' in response.text  # the form is back, ready for another try
    assert "xiaoer_session=" not in (response.headers.get("set-cookie") or "")
    with sync_engine.connect() as conn:
        failed = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'auth.login_failed'"
                " and actor_name = :u and shop_id = :s"
            ),
            {"u": agent.username, "s": demo_shop.shop_id},
        ).scalar()
    assert failed == 1
    assert app_client.get("/api/v1/me").status_code == 401


def test_login_post_without_the_form_token_is_refused(app_client, demo_shop):
    agent = demo_shop.login("agent")
    response = app_client.post(
        "/login",
        data={"username": agent.username, "password": agent.password},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert app_client.get("/api/v1/me").status_code == 401


def test_login_token_must_match_the_browsers_own_cookie(app_client, settings, demo_shop):
    from xiaoer.app import create_app

    # An attacker's page can fetch its own token but cannot plant the matching cookie.
    with TestClient(create_app(settings)) as attacker:
        stolen = login_form_token(attacker)
    login_form_token(app_client)
    agent = demo_shop.login("agent")
    response = app_client.post(
        "/login",
        data={"username": agent.username, "password": agent.password, "csrf_token": stolen},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_next_parameter_only_leads_to_local_paths(app_client, demo_shop):
    agent = demo_shop.login("agent")
    for target, expected in [
        ("/tickets?status=open", "/tickets?status=open"),
        ("//evil.example/x", "/workspace"),
        ("https://evil.example/", "/workspace"),
        ("/\\evil.example", "/workspace"),
    ]:
        app_client.cookies.clear()
        response = _post_login(app_client, agent.username, agent.password, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == expected


def test_login_page_carries_next_into_the_form(app_client):
    page = app_client.get("/login?next=/tickets/5")
    assert 'name="next" value="/tickets/5"' in page.text
    evil = app_client.get("/login?next=//evil.example")
    assert 'name="next" value="/workspace"' in evil.text


def test_failed_logins_are_limited_per_username_and_address(app_client, demo_shop):
    agent = demo_shop.login("agent")
    for _ in range(10):
        assert _post_login(app_client, agent.username, "wrong-password").status_code == 401
    # Even the right password is refused while the limit holds.
    blocked = _post_login(app_client, agent.username, agent.password)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Another account from the same address is not affected.
    other = demo_shop.login("agent", 1)
    assert _post_login(app_client, other.username, other.password).status_code == 303


def test_throttle_forgets_failures_after_the_window():
    now = [0.0]
    throttle = LoginThrottle(MemoryRateLimiter(clock=lambda: now[0]), account_failures=3)

    async def scenario() -> None:
        for _ in range(3):
            await throttle.failed("Alice", "1.2.3.4")
        now[0] = 10.0
        # Per account: blocked from any address, including a new one.
        assert await throttle.retry_after("alice", "1.2.3.4") == throttle.window_s - 10
        assert await throttle.retry_after("alice", "5.6.7.8") == throttle.window_s - 10
        assert await throttle.retry_after("bob", "5.6.7.8") == 0
        now[0] = throttle.window_s + 1.0
        assert await throttle.retry_after("alice", "1.2.3.4") == 0
        await throttle.failed("bob", "1.2.3.4")
        await throttle.succeeded("bob", "1.2.3.4")
        assert await throttle.retry_after("bob", "1.2.3.4") == 0

    run_async(scenario())


def test_logout_needs_the_csrf_token_and_ends_the_session(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent")
    csrf = login(app_client, agent.username, agent.password)
    refused = app_client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403
    assert app_client.get("/api/v1/me").status_code == 200
    done = app_client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert app_client.get("/api/v1/me").status_code == 401
    with sync_engine.connect() as conn:
        logouts = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'auth.logout' and actor_name = :u"
            ),
            {"u": agent.username},
        ).scalar()
    assert logouts == 1


def test_root_sends_visitors_to_login_and_staff_to_the_workspace(app_client, demo_shop):
    first = app_client.get("/", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login"
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    second = app_client.get("/", follow_redirects=False)
    assert second.headers["location"] == "/workspace"
    # A logged-in user opening /login goes straight on.
    assert app_client.get("/login", follow_redirects=False).status_code == 303


def test_pages_redirect_anonymous_browsers_to_login(app_client):
    response = app_client.get("/tickets", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/tickets")
    assert app_client.get("/api/v1/tickets").status_code == 401


def test_login_page_speaks_english_on_request(app_client):
    page = app_client.get("/login?lang=en")
    assert "Staff login" in page.text
    assert "客服登录" in app_client.get("/login?lang=zh-CN").text
