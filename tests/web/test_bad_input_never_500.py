"""Bad input on every JSON route gets a 4xx with a message — never a 500 — for every role."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.login import login

GARBAGE_BODIES: list[dict[str, Any]] = [
    {"content": b"not json at all", "headers": {"content-type": "application/json"}},
    {"json": {}},
    {"json": []},
    {"json": {"body": "x" * 100_000, "rating": "five", "status": "???", "agent_id": -1}},
    {"json": {"title": None, "priority": 12, "type": {"nested": True}, "conversation_id": "a"}},
]
PATH_VALUES = ["abc", "0", "99999999", "-1"]


def _paths(app: Any) -> list[tuple[str, str]]:
    """Every JSON route the OpenAPI document promises."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1/"):
            found.extend((method.upper(), path) for method in operations)
    return sorted(found)


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_every_api_route_answers_garbage_with_a_clear_4xx(app_client, demo_shop, role):
    account = demo_shop.login(role)
    csrf = login(app_client, account.username, account.password)
    routes = _paths(app_client.app)
    assert len(routes) > 20
    for method, path in routes:
        for value in PATH_VALUES:
            url = re.sub(r"\{[^}]+\}", value, path)
            bodies = GARBAGE_BODIES if method != "GET" else [{}]
            for body in bodies:
                response = app_client.request(
                    method,
                    url,
                    headers={"X-CSRF-Token": csrf, **body.get("headers", {})},
                    **{k: v for k, v in body.items() if k != "headers"},
                )
                assert response.status_code < 500, (method, url, body, response.text[:300])
                if response.status_code >= 400:
                    payload = response.json()
                    assert payload["message"], (method, url, payload)
