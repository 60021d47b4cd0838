"""Logging a test client in, the one place for it.

- `login(client, username, password)`: through the real /login form (pre-session CSRF token
  included), for tests about logging in.
- `login_as(client, shop, role)`: every other test. It signs the session cookie the login
  form would set for a live server-side session (the app's own `start_session` and
  `make_session_cookie`), skipping the page round trips and the password check.

Both return the session's CSRF token::

    csrf = login_as(app_client, demo_shop, "agent")
    app_client.post("/api/v1/...", json={...}, headers={"X-CSRF-Token": csrf})

Form posts may send the token as the `csrf_token` field instead of the header.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from xiaoer.auth import sessions
from xiaoer.auth.models import SessionStage, User
from xiaoer.web.deps import SESSION_COOKIE, make_session_cookie, session_lifetime

_CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def login_form_token(client: TestClient) -> str:
    """GET /login and return the pre-session CSRF token of its form (also sets its cookie)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    match = _CSRF_FIELD.search(page.text)
    assert match, "login form has no csrf_token field"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> str:
    """Log in as `username`; the client keeps the session cookie. Returns the session's CSRF
    token (send it as the `X-CSRF-Token` header or the `csrf_token` form field)."""
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, f"login failed: {response.status_code} {response.text}"
    me = client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    return str(me.json()["csrf_token"])


def login_as(client: TestClient, shop: Any, role: str, index: int = 0) -> str:
    """Log `client` in as the seeded `shop`'s `role` account number `index` (no form): a live
    server-side session started by the app's own `start_session`, in the cookie the login form
    would set."""
    from tests.conftest import in_database

    username = shop.login(role, index).username
    app: Any = client.app
    settings = app.state.settings

    async def start(session: Any) -> str:
        user = await session.scalar(select(User).where(User.username == username))
        _row, token = await sessions.start_session(
            session,
            user=user,
            stage=SessionStage.active,
            ip="testclient",
            user_agent="login_as",
            lifetime=session_lifetime(settings),
        )
        return token

    token = in_database(settings.effective_database_url, start)
    value, csrf = make_session_cookie(SimpleNamespace(app=app), token)  # type: ignore[arg-type]
    for cookie in list(client.cookies.jar):  # replaces any earlier session, as logging in does
        if cookie.name == SESSION_COOKIE:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(SESSION_COOKIE, value)
    return csrf
