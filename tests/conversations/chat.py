"""Helpers for chat tests: a customer's widget socket and reading frames until one arrives."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from tests.web.login import login_as


def receive(ws: Any, timeout: float = 15.0) -> dict[str, Any]:
    """`ws.receive_json()` with a time limit, so a missing frame fails the test fast."""

    async def get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(get)
    ws._raise_on_close(message)
    return dict(json.loads(message["text"]))


def frames_until(
    ws: Any, kind: str, *, limit: int = 30, where: Any = None, **match: Any
) -> list[dict[str, Any]]:
    """Receives frames until one of type `kind` (whose fields equal `match`, and for which
    `where(frame)` holds) arrives; returns every frame received on the way, that one last."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        frame = receive(ws)
        seen.append(frame)
        if (
            frame["type"] == kind
            and all(frame.get(k) == v for k, v in match.items())
            and (where is None or where(frame))
        ):
            return seen
    raise AssertionError(f"no {kind} frame in {seen}")


def hello(ws: Any, token: str | None = None, last_message_id: int = 0) -> dict[str, Any]:
    ws.send_json({"type": "hello", "visitor_token": token, "last_message_id": last_message_id})
    return frames_until(ws, "ready")[-1]


def say(ws: Any, body: str, *, client_msg_id: str | None = None, handoff: bool = False) -> dict:
    """Sends a customer message and returns its ack (frames before the ack are dropped)."""
    cid = client_msg_id or str(uuid.uuid4())
    ws.send_json({"type": "message", "client_msg_id": cid, "body": body, "handoff": handoff})
    return frames_until(ws, "ack", client_msg_id=cid)[-1]


def message_from(sender_type: str) -> Any:
    return lambda f: f["message"]["sender_type"] == sender_type


class Staff:
    """One logged-in staff member sharing the test client with others: each call puts this
    member's session cookie back on the client first."""

    def __init__(self, client: TestClient, demo_shop: Any, role: str, index: int = 0) -> None:
        self.client = client
        self.account = demo_shop.login(role, index)
        client.cookies.clear()  # log in afresh, not on top of another member's session
        self.csrf = login_as(client, demo_shop, role, index)
        self.cookie = client.cookies.get("xiaoer_session")
        self.id = int(client.get("/api/v1/me").json()["id"])

    def _use(self) -> TestClient:
        self.client.cookies.clear()
        self.client.cookies.set("xiaoer_session", self.cookie or "")
        return self.client

    def get(self, url: str, **kw: Any) -> Any:
        return self._use().get(url, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self._use().post(url, json=json, headers=headers, **kw)

    def socket(self) -> Any:
        return self._use().websocket_connect("/ws/agent")


def user_id(sync_engine: Engine, username: str) -> int:
    with sync_engine.connect() as conn:
        return int(
            conn.execute(
                text("select id from user_account where username = :u"), {"u": username}
            ).scalar_one()
        )
