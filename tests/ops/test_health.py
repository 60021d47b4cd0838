"""What a load balancer and Prometheus see: `/readyz` with each check, `/metrics` gauges."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from tests.servers import free_port
from xiaoer.app import create_app
from xiaoer.config import Settings
from xiaoer.events import LocalBus
from xiaoer.ops.backup import run_backup
from xiaoer.ops.health import readiness


def test_ready_process_reports_each_check(app_client: TestClient) -> None:
    ready = app_client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"] == {
        "ok": True,
        "configured": False,
        "ms": body["checks"]["redis"]["ms"],
    }
    assert body["checks"]["jobs"]["ok"] is True
    assert app_client.get("/healthz").json() == {"status": "ok"}


def test_unreachable_redis_degrades_but_strict_readiness_refuses(settings: Settings) -> None:
    # A port nobody listens on: Redis is down from the start; the process still serves.
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(down)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"]["ok"] is False
        assert client.get("/readyz?strict=1").status_code == 503


def test_unreachable_database_makes_the_process_unready(settings: Settings) -> None:
    async def check() -> tuple[str, dict]:
        engine = create_async_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
        try:
            state = SimpleNamespace(engine=engine, settings=settings, bus=LocalBus(), worker=None)
            return await readiness(state)
        finally:
            await engine.dispose()

    status, checks = asyncio.run(check())
    assert status == "unavailable"
    assert checks["database"]["ok"] is False


def test_metrics_show_waiting_chats_and_backup_age(
    app_client: TestClient, demo_shop, settings: Settings
) -> None:
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ws.send_text(json.dumps({"type": "hello"}))
        assert json.loads(ws.receive_text())["type"] == "ready"
        ws.send_text(
            json.dumps(
                {"type": "message", "client_msg_id": "w1", "body": "转人工", "handoff": True}
            )
        )
        while json.loads(ws.receive_text())["type"] != "ack":
            pass
    result = run_backup(settings)
    assert result.ok
    text = app_client.get("/metrics").text
    waiting = [
        line
        for line in text.splitlines()
        if line.startswith("xiaoer_waiting_conversations{")
        and f'shop="{demo_shop.shop_id}"' in line
    ]
    assert waiting
    assert float(waiting[0].rsplit(" ", 1)[1]) >= 1
    assert "xiaoer_backup_last_run_ok 1.0" in text
    assert "xiaoer_backup_last_success_timestamp_seconds" in text
    assert "xiaoer_websocket_frame_seconds_count" in text
    assert Path(settings.backup_dir, result.file or "").is_file()
