import secrets

import pytest
from sqlalchemy import text


def test_health_and_readiness(app_client):
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/readyz").json() == {"status": "ready"}
    assert "xiaoer_http_request_seconds" in app_client.get("/metrics").text


def test_demo_shop_seeds_staff(demo_shop, sync_engine):
    with sync_engine.connect() as conn:
        n = conn.execute(
            text("select count(*) from user_account where shop_id = :s"), {"s": demo_shop.shop_id}
        ).scalar()
    assert n == 5


def test_echo_socket_only_in_the_benchmark_configuration(settings, app_client):
    from pydantic import ValidationError
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from xiaoer.app import create_app
    from xiaoer.config import Settings

    with pytest.raises(WebSocketDisconnect), app_client.websocket_connect("/ws/echo") as ws:
        ws.receive_text()
    bench = settings.model_copy(update={"bench_echo": True})
    with TestClient(create_app(bench)) as client, client.websocket_connect("/ws/echo") as ws:
        ws.send_text("你好 <b>")
        assert ws.receive_text() == "你好 <b>"
    with pytest.raises(ValidationError, match="XIAOER_BENCH_ECHO"):
        Settings(env="production", secret_key=secrets.token_urlsafe(32), bench_echo=True)
