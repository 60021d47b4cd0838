"""A Redis outage between two real server processes: the customer's messages are acknowledged
throughout, local subscribers keep getting frames, and when Redis is back the agent on the other
process catches up from the database and live delivery resumes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import postgres_admin_url
from tests.servers import (
    LOOPBACK_CROWD,
    Server,
    free_port,
    fresh_postgres,
    login,
    receive_until,
    seed,
    staff_socket,
    start_server,
)
from xiaoer.migrate import upgrade

OUTAGE_SECONDS = 20
OUTAGE_MESSAGES = 20


@contextlib.contextmanager
def own_redis(port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own (no persistence) on `port`."""
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield process
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def shared_database(db_kind: str, tmp_path: Path) -> Iterator[str]:
    if db_kind == "postgresql":
        with fresh_postgres(postgres_admin_url()) as url:
            yield url
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'bus.db'}"
    upgrade(url)
    yield url


def _bus_back(server: Server) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        check = httpx.get(f"{server.http}/readyz", timeout=3).json()["checks"]["redis"]
        return bool(check["ok"])
    return False


def _closed_by_server(ws: ClientConnection, timeout: float) -> int | None:
    """Reads until the server closes the socket; its close code (None if it stayed open)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.slow
@pytest.mark.redis
def test_redis_outage_loses_no_ack_and_agents_catch_up(shared_database: str, tmp_path: Path):
    shop = seed(shared_database)
    port = free_port()
    env = {
        **LOOPBACK_CROWD,
        # One shopper sends a message a second through the outage: a bus test, not a flood test.
        "XIAOER_WIDGET_LIMITS__MESSAGES_PER_VISITOR_PER_MINUTE": "1000",
        "XIAOER_WIDGET_LIMITS__MESSAGES_PER_CONNECTION_PER_MINUTE": "1000",
        "XIAOER_DATABASE_URL": shared_database,
        "XIAOER_REDIS_URL": f"redis://127.0.0.1:{port}/0",
    }
    with own_redis(port, tmp_path) as first_redis:
        a = start_server({**env, "XIAOER_DATA_DIR": str(tmp_path / "a")}, tmp_path)
        b = start_server({**env, "XIAOER_DATA_DIR": str(tmp_path / "b")}, tmp_path)
        try:
            account = shop.login("agent")
            http, csrf = login(b, account.username, account.password)
            headers = {"X-CSRF-Token": csrf}
            customer = connect(f"{a.ws}/ws/chat/{shop.slug}")
            staff = staff_socket(b, http)
            receive_until(staff, "ready")
            customer.send(json.dumps({"type": "hello"}))
            token = receive_until(customer, "ready")["visitor_token"]
            customer.send(
                json.dumps(
                    {"type": "message", "client_msg_id": "c0", "body": "转人工", "handoff": True}
                )
            )
            conversation_id = receive_until(customer, "handoff")["conversation_id"]
            assert http.post(
                f"/api/v1/conversations/{conversation_id}/accept", headers=headers
            ).is_success
            staff.send(json.dumps({"type": "watch", "conversation_id": conversation_id}))
            receive_until(staff, "watching")
            before = http.get(f"/api/v1/conversations/{conversation_id}/messages").json()
            last_seen = max(m["id"] for m in before)

            # --- Redis goes away -------------------------------------------------------------
            first_redis.terminate()
            first_redis.wait(timeout=10)
            started = time.monotonic()
            acked, echoed, replies = set(), set(), []

            def read_customer(timeout: float) -> None:
                frame = json.loads(customer.recv(timeout=timeout))
                assert frame["type"] != "error", frame
                if frame["type"] == "ack":
                    acked.add(frame["client_msg_id"])
                if frame["type"] == "message.created" and frame["message"]["client_msg_id"]:
                    echoed.add(frame["message"]["client_msg_id"])  # local delivery, no Redis

            for i in range(OUTAGE_MESSAGES):
                customer.send(
                    json.dumps(
                        {"type": "message", "client_msg_id": f"o{i}", "body": f"停机期间 {i}"}
                    )
                )
                while f"o{i}" not in acked:
                    read_customer(15)
                if i % 7 == 3:
                    reply = http.post(
                        f"/api/v1/conversations/{conversation_id}/messages",
                        json={"body": f"客服回复 {i}"},
                        headers=headers,
                    )
                    assert reply.status_code == 200, reply.text
                    replies.append(reply.json()["id"])
                pause = started + (i + 1) * OUTAGE_SECONDS / OUTAGE_MESSAGES - time.monotonic()
                time.sleep(max(0.0, pause))
            outage = {f"o{i}" for i in range(OUTAGE_MESSAGES)}
            with contextlib.suppress(TimeoutError):
                while not outage <= echoed:
                    read_customer(5)
            acks, echoes = len(acked & outage), len(echoed & outage)
            assert acks == OUTAGE_MESSAGES
            assert echoes == OUTAGE_MESSAGES

            # --- Redis is back: both processes notice and close what may have missed frames ---
            with own_redis(port, tmp_path):
                deadline = time.monotonic() + 30
                while not (_bus_back(a) and _bus_back(b)):
                    assert time.monotonic() < deadline, "the servers did not resubscribe"
                    time.sleep(0.2)
                assert _closed_by_server(staff, 10) == 1012
                assert _closed_by_server(customer, 10) == 1012

                # The agent's catch-up, as the workspace does after a reconnect.
                staff = staff_socket(b, http)
                receive_until(staff, "ready")
                staff.send(json.dumps({"type": "watch", "conversation_id": conversation_id}))
                receive_until(staff, "watching")
                missed = http.get(
                    f"/api/v1/conversations/{conversation_id}/messages", params={"after": last_seen}
                ).json()
                caught = {m["client_msg_id"] for m in missed if m["sender_type"] == "customer"}
                assert {f"o{i}" for i in range(OUTAGE_MESSAGES)} <= caught

                # The customer's catch-up: the agent's replies from the outage come with `hello`.
                customer = connect(f"{a.ws}/ws/chat/{shop.slug}")
                customer.send(
                    json.dumps(
                        {"type": "hello", "visitor_token": token, "last_message_id": last_seen}
                    )
                )
                receive_until(customer, "ready")
                replayed = set()
                with contextlib.suppress(TimeoutError):
                    while not set(replies) <= replayed:
                        frame = json.loads(customer.recv(timeout=10))
                        if frame["type"] == "message.created":
                            replayed.add(frame["message"]["id"])
                assert set(replies) <= replayed

                # Live across processes again, both ways.
                live = 0
                for i in range(5):
                    customer.send(
                        json.dumps(
                            {"type": "message", "client_msg_id": f"l{i}", "body": f"恢复后 {i}"}
                        )
                    )
                    receive_until(customer, "ack")
                    receive_until(
                        staff,
                        "message.created",
                        where=lambda f, i=i: f["message"]["client_msg_id"] == f"l{i}",
                    )
                    live += 1
                assert live == 5
                http.post(
                    f"/api/v1/conversations/{conversation_id}/messages",
                    json={"body": "恢复后的回复"},
                    headers=headers,
                )
                got = receive_until(
                    customer,
                    "message.created",
                    where=lambda f: f["message"]["sender_type"] == "agent",
                )
                assert got["message"]["body"] == "恢复后的回复"
                print(
                    f"\nredis outage {OUTAGE_SECONDS}s: {acks}/{OUTAGE_MESSAGES} acked,"
                    f" {echoes} local deliveries, agent caught up {len(caught)} customer messages, "
                    f"{len(replies)} replies replayed, {live}/5 live after recovery"
                )
            customer.close()
            staff.close()
        finally:
            a.stop()
            b.stop()
