"""Log a test client in through the real /login form (pre-session CSRF token included).

Usage in any test::

    from tests.web.login import login

    csrf = login(app_client, demo_shop.login("agent").username, demo_shop.login("agent").password)
    app_client.post("/api/v1/...", json={...}, headers={"X-CSRF-Token": csrf})

Form posts may send the token as the `csrf_token` field instead of the header.
"""

from __future__ import annotations

import re

from starlette.testclient import TestClient

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
