"""Overload answers at once: a frame the process has no room for gets `busy` with its client id
and a pause, and resending the same client id later stores the message once."""

from __future__ import annotations

import json

from sqlalchemy import text
from starlette.testclient import TestClient

from xiaoer.app import create_app
from xiaoer.config import CapacitySettings, Settings
from xiaoer.realtime.units import admission


def _frame_until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while True:
        frame = json.loads(ws.receive_text())
        if frame["type"] == kind:
            return dict(frame)


def test_a_full_process_answers_busy_and_the_resend_is_stored_once(
    settings: Settings, demo_shop, sync_engine
) -> None:
    tight = settings.model_copy(
        update={"capacity": CapacitySettings(units_in_flight=1, units_waiting=0)}
    )
    with TestClient(create_app(tight)) as client:
        with client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
            ws.send_text(json.dumps({"type": "hello"}))
            _frame_until(ws, "ready")
            gate = admission(client.app.state)
            client.portal.call(gate._free.acquire)  # another unit holds the only slot
            message = {"type": "message", "client_msg_id": "busy-1", "body": "在吗"}
            ws.send_text(json.dumps(message))
            busy = _frame_until(ws, "error")
            assert busy["code"] == "busy"
            assert busy["client_msg_id"] == "busy-1"
            assert busy["frame_type"] == "message"
            assert busy["retry_after_ms"] >= 250

            client.portal.call(gate._free.release)
            ws.send_text(json.dumps(message))
            first = _frame_until(ws, "ack")
            ws.send_text(json.dumps(message))
            again = _frame_until(ws, "ack")
            assert again["message_id"] == first["message_id"]
        metrics = client.get("/metrics").text
        assert 'xiaoer_busy_refusals_total{reason="queue_full"}' in metrics
    with sync_engine.connect() as conn:
        stored = conn.execute(
            text("select count(*) from message where client_msg_id = 'busy-1'")
        ).scalar_one()
    assert stored == 1
