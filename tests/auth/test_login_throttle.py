"""Password guessing: limited per account from any address (a rotating X-Forwarded-For does
not help unless the peer is a configured proxy), per address across accounts, counted in Redis
so every process agrees; unknown usernames cost the same password check as known ones."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.web.login import login_form_token
from xiaoer.app import create_app
from xiaoer.auth import service as auth_service


def _attempt(client: TestClient, username: str, password: str, xff: str = ""):  # type: ignore[no-untyped-def]
    token = login_form_token(client)
    headers = {"x-forwarded-for": xff} if xff else {}
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def test_rotating_x_forwarded_for_does_not_reset_the_account_limit(app_client, demo_shop):
    agent = demo_shop.login("agent")
    for n in range(10):
        assert (
            _attempt(app_client, agent.username, "wrong-guess", f"198.51.100.{n}").status_code
            == 401
        )
    blocked = _attempt(app_client, agent.username, agent.password, "203.0.113.99")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_one_address_spraying_many_accounts_is_stopped(settings):
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    with TestClient(create_app(behind_proxy), client=("10.1.2.3", 40000)) as client:
        sprayer = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
        for _ in range(50):
            name = f"nobody-{uuid.uuid4().hex[:8]}"
            assert _attempt(client, name, "Summer2026!", sprayer).status_code == 401
        assert _attempt(client, "still-nobody", "Summer2026!", sprayer).status_code == 429
        # A different client behind the same proxy is not affected.
        assert _attempt(client, "still-nobody", "Summer2026!", "192.0.2.251").status_code == 401


def test_failures_counted_in_redis_are_seen_by_another_process(settings, demo_shop):
    shared = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    agent = demo_shop.login("agent", 1)  # a unique username: its counter key is this test's own
    with TestClient(create_app(shared)) as first, TestClient(create_app(shared)) as second:
        for _ in range(5):
            assert _attempt(first, agent.username, "wrong-guess").status_code == 401
        for _ in range(5):
            assert _attempt(second, agent.username, "wrong-guess").status_code == 401
        assert _attempt(first, agent.username, agent.password).status_code == 429
        assert _attempt(second, agent.username, agent.password).status_code == 429


def test_unknown_users_are_checked_against_a_password_hash_too(app_client, demo_shop, monkeypatch):
    checked: list[str] = []
    real = auth_service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    agent = demo_shop.login("agent", 2)
    unknown = _attempt(app_client, f"ghost-{uuid.uuid4().hex[:6]}", "whatever-guess")
    known = _attempt(app_client, agent.username, "whatever-guess")
    assert unknown.status_code == known.status_code == 401
    assert unknown.text.count("login-error") == known.text.count("login-error")
    assert len(checked) == 2
    assert checked[0].startswith("$argon2")
    assert checked[1].startswith("$argon2")
