"""Helpers for assist tests: a customer handed to an agent, then saying things."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from tests.conversations.chat import Staff, frames_until, hello, say
from tests.web.data import rows


@dataclass
class Chat:
    conversation_id: int
    token: str
    agent: Staff
    message_ids: list[int]


def served_chat(
    app_client: Any,
    demo_shop: Any,
    *messages: str,
    role: str = "agent",
    identify: bool = True,
    token: str | None = None,
) -> Chat:
    """A (sample, unless `identify` is off) customer asks for a person, says `messages`, and a
    staff member of `role` accepts the conversation."""
    ids = []
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws, token)["visitor_token"]
        if identify:
            # The sample customer proves who they are: an order number and the phone's last digits.
            ws.send_json(
                {
                    "type": "verify",
                    "method": "order",
                    "order_no": next(iter(demo_shop.sample_order_nos.values())),
                    "phone_last4": demo_shop.sample_customer_phone[-4:],
                }
            )
            frames_until(ws, "verified")
        cid = str(uuid.uuid4())
        ws.send_json(
            {"type": "message", "client_msg_id": cid, "body": "我要找人工客服", "handoff": True}
        )
        handoff = frames_until(ws, "handoff")[-1]
        for body in messages:
            ids.append(int(say(ws, body)["message_id"]))
    staff = Staff(app_client, demo_shop, role)
    accepted = staff.post(f"/api/v1/conversations/{handoff['conversation_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    return Chat(int(handoff["conversation_id"]), str(token), staff, ids)


def customer_says(app_client: Any, demo_shop: Any, token: str, body: str) -> int:
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws, token, last_message_id=10**12)
        return int(say(ws, body)["message_id"])


def audit_rows(sync_engine: Engine, shop_id: int, action: str) -> list[Any]:
    return rows(
        sync_engine,
        "select actor_name, entity_id, after from audit_entry"
        " where shop_id = :s and action = :a order by id",
        s=shop_id,
        a=action,
    )
