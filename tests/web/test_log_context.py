"""Log lines written while serving a request carry its request id and the shop, user and
conversation it concerns (structlog context variables bound by the web layer)."""

from __future__ import annotations

import re

import structlog
from starlette.testclient import TestClient

from tests.assist.helpers import served_chat
from tests.web.login import login
from xiaoer.app import create_app


def _built(logs: list[dict]) -> dict:
    found = [e for e in logs if e["event"] == "bot_library_built"]
    assert found, [e["event"] for e in logs]
    return found[0]


def test_a_request_logs_with_its_request_id_shop_and_user(settings, demo_shop):
    # A fresh app: its bot trains (and logs) inside the request below.
    with TestClient(create_app(settings)) as client:
        account = demo_shop.login("supervisor")
        csrf = login(client, account.username, account.password)
        me = client.get("/api/v1/me").json()
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            response = client.post(
                "/api/v1/bot/preview",
                json={"text": "多久发货"},
                headers={"X-CSRF-Token": csrf, "X-Request-ID": "edge-proxy-4711"},
            )
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == "edge-proxy-4711"
        line = _built(logs)
        assert line["request_id"] == "edge-proxy-4711"
        assert (line["shop_id"], line["user_id"]) == (demo_shop.shop_id, me["id"])
        # A malformed incoming id is not echoed into logs or headers: a fresh one is made.
        other = client.get("/healthz", headers={"X-Request-ID": "<script>x</script>"})
        assert re.fullmatch(r"[0-9a-f]{32}", other.headers["X-Request-ID"])


def test_a_conversation_route_logs_with_the_conversation_id(settings, demo_shop, app_client):
    chat = served_chat(app_client, demo_shop, "我的快递到哪了")
    with TestClient(create_app(settings)) as client:
        account = demo_shop.login("agent")
        login(client, account.username, account.password)
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            panel = client.get(f"/api/v1/assist/conversations/{chat.conversation_id}/panel")
        assert panel.status_code == 200, panel.text
        line = _built(logs)
        assert str(line["conversation_id"]) == str(chat.conversation_id)
        assert line["shop_id"] == demo_shop.shop_id
        assert line["request_id"]
