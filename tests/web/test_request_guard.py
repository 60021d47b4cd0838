"""The HTTP guard: body size limit (413 while streaming), NUL bytes (422) and 405 with `Allow`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.web.login import login
from xiaoer.app import create_app
from xiaoer.web.limits import RequestGuard


@pytest.fixture
def small_limit_client(settings):
    settings.max_body_bytes = 4096
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_declared_body_over_the_limit_is_413_json_for_the_api(small_limit_client, demo_shop):
    account = demo_shop.login("admin")
    csrf = login(small_limit_client, account.username, account.password)
    response = small_limit_client.post(
        "/api/v1/scripts/check",
        content=json.dumps({"text": "好" * 5000}).encode(),
        headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "4096" in response.json()["message"]


def test_a_form_post_over_the_limit_is_an_html_413_page(small_limit_client):
    response = small_limit_client.post(
        "/login",
        data={"username": "x" * 10_000, "password": "y"},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")


def test_the_limit_cuts_a_streamed_body_off_without_reading_the_rest():
    """A chunked upload with no Content-Length: the guard stops pulling chunks at the limit."""
    pulled = 0

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    inner = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    app = RequestGuard(
        inner,
        max_body_bytes=10_000,
        respond=lambda request, status, code, message, **_: JSONResponse({"error": code}, status),
    )

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": pulled < 1000}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"content-type", b"application/octet-stream")],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled == 11  # 11 KB read of the 1 MB offered


def test_nul_bytes_in_text_are_422_in_json_form_and_query(app_client, demo_shop):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    app_client.cookies.set("lang", "en")
    headers = {"X-CSRF-Token": csrf}
    response = app_client.post("/api/v1/scripts/check", json={"text": "您好\x00"}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "invalid_input",
        "message": "Text must not contain NUL characters.",
    }
    response = app_client.get("/api/v1/scripts", params={"q": "a\x00b"})
    assert response.status_code == 422
    response = app_client.post(
        "/login",
        content=b"username=a%00&password=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    # An escaped backslash followed by "u0000" is ordinary text, not a NUL.
    response = app_client.post(
        "/api/v1/scripts/check", json={"text": "路径 C:\\u0000 不是空字符"}, headers=headers
    )
    assert response.status_code == 200, response.text


def test_a_wrong_method_is_405_with_allow(app_client):
    response = app_client.delete("/api/v1/tickets")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert response.json()["error"] == "method_not_allowed"
