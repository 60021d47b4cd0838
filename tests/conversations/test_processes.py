"""Real server processes: realtime across two processes through Redis, and nothing acknowledged
is lost when the server process is killed outright."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text
from websockets.sync.client import connect

from tests.conftest import postgres_admin_url
from tests.servers import (
    fresh_postgres,
    login,
    receive_until,
    seed,
    staff_socket,
    start_server,
)
from xiaoer.migrate import sync_url, upgrade

REDIS_URL = os.environ.get("XIAOER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.postgresql_only
def test_customer_and_agent_on_different_server_processes_chat_both_ways(tmp_path):
    _redis_or_skip()
    with fresh_postgres(postgres_admin_url()) as url:
        shop = seed(url)
        env = {"XIAOER_DATABASE_URL": url, "XIAOER_REDIS_URL": REDIS_URL}
        a = start_server({**env, "XIAOER_DATA_DIR": str(tmp_path / "a")}, tmp_path)
        b = start_server({**env, "XIAOER_DATA_DIR": str(tmp_path / "b")}, tmp_path)
        try:
            account = shop.login("agent")
            http, csrf = login(b, account.username, account.password)
            headers = {"X-CSRF-Token": csrf}
            with staff_socket(b, http) as staff, connect(f"{a.ws}/ws/chat/{shop.slug}") as customer:
                receive_until(staff, "ready")
                customer.send(json.dumps({"type": "hello"}))
                receive_until(customer, "ready")
                customer.send(
                    json.dumps(
                        {
                            "type": "message",
                            "client_msg_id": "c1",
                            "body": "转人工",
                            "handoff": True,
                        }
                    )
                )
                handoff = receive_until(customer, "handoff")
                conversation_id = handoff["conversation_id"]
                # Process A's hand-off reaches the agent connected to process B.
                queued = receive_until(staff, "conversation.queued")
                assert queued["conversation"]["id"] == conversation_id

                staff.send(json.dumps({"type": "watch", "conversation_id": conversation_id}))
                receive_until(staff, "watching")
                accepted = http.post(
                    f"/api/v1/conversations/{conversation_id}/accept", headers=headers
                )
                assert accepted.status_code == 200, accepted.text
                reply = http.post(
                    f"/api/v1/conversations/{conversation_id}/messages",
                    json={"body": "您好，B 进程的客服为您服务"},
                    headers=headers,
                )
                assert reply.status_code == 200, reply.text
                got = receive_until(
                    customer,
                    "message.created",
                    where=lambda f: f["message"]["sender_type"] == "agent",
                )
                assert got["message"]["body"] == "您好，B 进程的客服为您服务"

                customer.send(
                    json.dumps({"type": "message", "client_msg_id": "c2", "body": "好的谢谢"})
                )
                receive_until(customer, "ack")
                seen = receive_until(
                    staff,
                    "message.created",
                    where=lambda f: f["message"]["client_msg_id"] == "c2",
                )
                assert seen["message"]["body"] == "好的谢谢"

                closed = http.post(
                    f"/api/v1/conversations/{conversation_id}/close", headers=headers
                )
                assert closed.status_code == 200
                assert receive_until(customer, "conversation.closed")["survey"] is True
        finally:
            a.stop()
            b.stop()


@pytest.fixture
def crash_database(db_kind, tmp_path):
    """The leg's engine, in a database of this test's own that server processes can share."""
    if db_kind == "postgresql":
        with fresh_postgres(postgres_admin_url()) as url:
            yield url
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    upgrade(url)
    yield url


@pytest.mark.slow
def test_every_acknowledged_message_survives_a_killed_server(crash_database, tmp_path):
    shop = seed(crash_database)
    env = {"XIAOER_DATABASE_URL": crash_database, "XIAOER_DATA_DIR": str(tmp_path)}
    server = start_server(env, tmp_path)
    acked: dict[str, int] = {}
    try:
        with connect(f"{server.ws}/ws/chat/{shop.slug}") as ws:
            ws.send(json.dumps({"type": "hello"}))
            token = receive_until(ws, "ready")["visitor_token"]
            ids = [f"m{i}-{uuid.uuid4().hex[:6]}" for i in range(40)]
            # Pipelined: many frames in flight when the process dies.
            for cid in ids:
                ws.send(
                    json.dumps({"type": "message", "client_msg_id": cid, "body": f"订单 {cid}"})
                )
            while len(acked) < 15:
                frame = json.loads(ws.recv(timeout=30))
                if frame["type"] == "ack":
                    acked[frame["client_msg_id"]] = frame["message_id"]
            server.kill()  # right after the 15th ack, with the rest still being processed
    finally:
        server.kill()

    engine = create_engine(sync_url(crash_database))
    try:
        with engine.connect() as conn:
            stored = dict(
                conn.execute(
                    text("select client_msg_id, id from message where client_msg_id is not null")
                ).all()
            )
    finally:
        engine.dispose()
    for cid, message_id in acked.items():
        assert stored.get(cid) == message_id, f"acknowledged message {cid} was lost"

    # After a restart the customer resumes and sees every acknowledged message.
    server = start_server(env, tmp_path)
    try:
        with connect(f"{server.ws}/ws/chat/{shop.slug}") as ws:
            ws.send(json.dumps({"type": "hello", "visitor_token": token, "last_message_id": 0}))
            receive_until(ws, "ready")
            ws.send(json.dumps({"type": "message", "client_msg_id": "after", "body": "重启后"}))
            resumed = set()
            while True:
                frame = json.loads(ws.recv(timeout=15))
                if frame["type"] == "message.created":
                    resumed.add(frame["message"]["id"])
                if frame["type"] == "ack":
                    break
        assert set(acked.values()) <= resumed
    finally:
        server.stop()
