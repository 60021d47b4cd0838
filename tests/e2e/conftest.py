"""Real-browser fixtures: a uvicorn server process on the test database and Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.servers import start_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# A test's fresh shop trains its bot on the first customer message (models load lazily since
# the fast-start change); on a loaded 2-core machine that first answer takes more than
# Playwright's default 5 s of `expect`.
expect.set_options(timeout=30_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`uvicorn xiaoer.asgi:app_factory --factory` on a free port against the test database."""
    data_dir = tmp_path_factory.mktemp("e2e-server")
    env = {
        "XIAOER_DATABASE_URL": database_url,
        "XIAOER_DATA_DIR": str(data_dir),
        "XIAOER_VENDOR_DIR": str(ROOT / "node_modules"),
        "XIAOER_REDIS_URL": "",
    }
    srv = start_server(env, data_dir)
    try:
        yield srv.http
    finally:
        srv.stop()


@pytest.fixture
def browser(demo_shop: Any) -> Iterator[Browser]:
    """Per test, and only once the shop is seeded: sync Playwright keeps an event loop running
    in this thread, and `demo_shop` seeds with asyncio.run()."""
    del demo_shop
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
