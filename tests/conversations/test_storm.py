"""A real `xiaoer serve` process under a reconnect storm: 1,000 customers with messages in
flight, the process killed with SIGKILL, restarted, and every customer reconnecting at once —
the wedge that a lock-order deadlock between the SQLite write turn and the pool used to cause."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from websockets.asyncio.client import ClientConnection, connect

from tests.servers import LOOPBACK_CROWD, seed, start_server
from xiaoer.migrate import sync_url, upgrade

CLIENTS = 1000
READY_WITHIN = 30.0


@pytest.fixture
def shared_database(tmp_path: Path) -> str:
    """The wedge under test is SQLite's (write turn vs pool), so the storm always runs on a
    SQLite file and only in the SQLite leg. The PostgreSQL reconnect wave belongs to the
    throughput issue (5,000 clients); on this 2-core box it did not yet reach 1,000 acks."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'storm.db'}"
    upgrade(url)
    return url


@dataclass
class Customer:
    """What the widget keeps across reconnects: its visitor token and unacknowledged outbox."""

    n: int
    token: str | None = None
    outbox: dict[str, str] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)
    busy: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


async def _until(
    ws: ClientConnection, customer: Customer, kind: str, resend: Any
) -> dict[str, Any]:
    """Frames until one of `kind`; `busy` answers are retried like the widget does (same frame,
    after the pause the server asks for, with jitter); any other error is a failure."""
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "ack":
            customer.outbox.pop(frame["client_msg_id"], None)
            customer.acked[frame["client_msg_id"]] = frame["message_id"]
        if frame["type"] == kind:
            return dict(frame)
        if frame["type"] == "error" and frame["code"] == "busy":
            customer.busy += 1
            await asyncio.sleep(frame["retry_after_ms"] / 1000 * random.uniform(1, 1.5))
            await resend(frame)
        elif frame["type"] == "error":
            customer.failures.append(frame)


async def _hello(ws: ClientConnection, customer: Customer) -> dict[str, Any]:
    hello = json.dumps({"type": "hello", "visitor_token": customer.token, "last_message_id": 0})

    async def resend(frame: dict[str, Any]) -> None:
        if frame.get("frame_type") == "hello":
            await ws.send(hello)

    await ws.send(hello)
    ready = await _until(ws, customer, "ready", resend)
    customer.token = ready.get("visitor_token") or customer.token
    return ready


def _resend_for(ws: ClientConnection, customer: Customer) -> Any:
    async def resend(frame: dict[str, Any]) -> None:
        cid = frame.get("client_msg_id")
        if cid in customer.outbox:
            await ws.send(_message(cid, customer.outbox[cid]))

    return resend


def _message(cid: str, body: str) -> str:
    return json.dumps({"type": "message", "client_msg_id": cid, "body": body, "handoff": True})


async def _before_crash(url: str, customer: Customer, killed: asyncio.Event) -> None:
    """Says hello, then keeps one message in flight until the server dies under it."""
    try:
        async with connect(url, open_timeout=60, max_queue=None) as ws:
            await _hello(ws, customer)
            n = 0
            while not killed.is_set():
                cid = f"s{customer.n}-{n}"
                customer.outbox[cid] = f"第 {n} 条，订单什么时候发货"
                await ws.send(_message(cid, customer.outbox[cid]))
                await _until(ws, customer, "ack", _resend_for(ws, customer))
                n += 1
    except Exception as exc:  # the kill cuts every socket: exactly what this phase waits for
        if not killed.is_set():
            customer.failures.append({"before_kill": repr(exc)})


async def _after_restart(url: str, customer: Customer) -> float:
    """Reconnects as the widget does and resends its outbox; returns seconds to `ready`."""
    started = time.monotonic()
    async with connect(url, open_timeout=60, max_queue=None) as ws:
        await _hello(ws, customer)
        ready_after = time.monotonic() - started
        for cid, body in list(customer.outbox.items()):
            await ws.send(_message(cid, body))
        while customer.outbox:
            await _until(ws, customer, "ack", _resend_for(ws, customer))
    return ready_after


@pytest.mark.slow
@pytest.mark.sqlite_only
@pytest.mark.alone
def test_a_thousand_customers_reconnect_after_a_killed_server(
    shared_database: str, tmp_path: Path
) -> None:
    shop = seed(shared_database)
    env = {
        "XIAOER_DATABASE_URL": shared_database,
        "XIAOER_DATA_DIR": str(tmp_path),
        **LOOPBACK_CROWD,
    }
    customers = [Customer(n) for n in range(CLIENTS)]
    server = start_server(env, tmp_path)
    try:

        async def crash() -> None:
            killed = asyncio.Event()
            url = f"{server.ws}/ws/chat/{shop.slug}"
            tasks = [asyncio.create_task(_before_crash(url, c, killed)) for c in customers]
            deadline = time.monotonic() + 120
            while sum(len(c.acked) for c in customers) < CLIENTS:
                assert time.monotonic() < deadline, (
                    "the server never got going: "
                    f"{sum(1 for c in customers if c.token)} ready, "
                    f"{sum(len(c.acked) for c in customers)} acks, "
                    f"{sum(c.busy for c in customers)} busy, "
                    f"{[f for c in customers for f in c.failures][:3]}"
                )
                await asyncio.sleep(0.05)
            killed.set()
            server.kill()
            await asyncio.gather(*tasks)

        asyncio.run(crash())
    finally:
        server.kill()
    in_flight = sum(1 for c in customers if c.outbox)
    assert in_flight > CLIENTS // 2, "the kill should leave most customers with a message unacked"

    server = start_server(env, tmp_path)
    try:

        async def storm() -> list[float]:
            url = f"{server.ws}/ws/chat/{shop.slug}"
            return await asyncio.wait_for(
                asyncio.gather(*(_after_restart(url, c) for c in customers)), timeout=90
            )

        ready_after = asyncio.run(storm())
    finally:
        server.stop()

    assert [f for c in customers for f in c.failures] == []
    assert max(ready_after) < READY_WITHIN, f"slowest ready after {max(ready_after):.1f}s"
    assert all(not c.outbox for c in customers)

    engine = create_engine(sync_url(shared_database))
    try:
        with engine.connect() as conn:
            stored = dict(
                conn.execute(
                    text("select client_msg_id, id from message where client_msg_id like 's%'")
                ).all()
            )
            rows, distinct = conn.execute(
                text(
                    "select count(*), count(distinct client_msg_id) from message"
                    " where client_msg_id like 's%'"
                )
            ).one()
    finally:
        engine.dispose()
    acked = {cid: mid for c in customers for cid, mid in c.acked.items()}
    assert acked == {cid: stored[cid] for cid in acked}, "an ack names a message not stored"
    # A resend of something stored before the kill got the original id back: no duplicates.
    assert rows == distinct
    busy = sum(c.busy for c in customers)
    print(
        f"\nstorm: {CLIENTS} clients, {in_flight} resends, slowest ready "
        f"{max(ready_after):.1f}s, median {sorted(ready_after)[CLIENTS // 2]:.2f}s, busy {busy}"
    )
