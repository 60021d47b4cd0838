"""In production `/metrics`, `/openapi.json` and `/api/docs` answer only a staff login or the
metrics bearer token; elsewhere they stay open for development."""

from __future__ import annotations

import secrets

from starlette.testclient import TestClient

from tests.web.login import login
from xiaoer.app import create_app
from xiaoer.config import Settings

OPS_PATHS = ("/metrics", "/openapi.json", "/api/docs")


def test_ops_pages_are_open_outside_production(app_client):
    for path in OPS_PATHS:
        assert app_client.get(path).status_code == 200, path


def test_ops_pages_need_a_token_or_a_login_in_production(settings, demo_shop):
    token = secrets.token_urlsafe(32)
    production = Settings(
        env="production",
        secret_key=secrets.token_urlsafe(32),
        metrics_token=token,
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        log_json=False,
    )
    with TestClient(create_app(production), base_url="https://testserver") as client:
        for path in OPS_PATHS:
            assert client.get(path).status_code == 401, path
            wrong = client.get(path, headers={"authorization": "Bearer not-the-token"})
            assert wrong.status_code == 401, path
            ok = client.get(path, headers={"authorization": f"Bearer {token}"})
            assert ok.status_code == 200, path
        assert (
            "xiaoer_http_request_seconds"
            in client.get("/metrics", headers={"authorization": f"Bearer {token}"}).text
        )
        agent = demo_shop.login("agent")
        login(client, agent.username, agent.password)
        # Production cookies are Secure: this client speaks https.
        for path in OPS_PATHS:
            assert client.get(path).status_code == 200, path
