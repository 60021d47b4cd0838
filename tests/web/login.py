"""Logging a test client in, the one place for it.

- `login(client, username, password)`: through the real /login form (pre-session CSRF token
  included), for tests about logging in.
- `login_as(client, shop, role)`: every other test. It signs the session cookie the login
  form would set (the app's own `make_session_cookie`, the user's real row), skipping the two
  page round trips and the password check.

Both return the session's CSRF token::

    csrf = login_as(app_client, demo_shop, "agent")
    app_client.post("/api/v1/...", json={...}, headers={"X-CSRF-Token": csrf})

Form posts may send the token as the `csrf_token` field instead of the header.
"""

from __future__ import annotations

import re
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from xiaoer.auth.models import User
from xiaoer.migrate import sync_url
from xiaoer.web.deps import SESSION_COOKIE, make_session_cookie

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


@cache
def _engine(database_url: str) -> Engine:
    return create_engine(sync_url(database_url))


def login_as(client: TestClient, shop: Any, role: str, index: int = 0) -> str:
    """Log `client` in as the seeded `shop`'s `role` account number `index` (no form)."""
    username = shop.login(role, index).username
    app: Any = client.app
    settings = app.state.settings
    with _engine(settings.effective_database_url).connect() as conn:
        row = conn.execute(
            select(User.id, User.session_version).where(User.username == username)
        ).one()
    user: Any = SimpleNamespace(id=row.id, session_version=row.session_version)
    value, csrf = make_session_cookie(SimpleNamespace(app=app), user)  # type: ignore[arg-type]
    for cookie in list(client.cookies.jar):  # replaces any earlier session, as logging in does
        if cookie.name == SESSION_COOKIE:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(SESSION_COOKIE, value)
    return csrf
