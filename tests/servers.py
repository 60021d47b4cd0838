"""Real `uvicorn` server processes for cluster and crash tests, and clients that talk to them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from websockets.sync.client import ClientConnection, connect

from xiaoer.demo.seed import DemoShop
from xiaoer.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
_CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A brand-new PostgreSQL database for server processes of one test, dropped afterwards."""
    libpq = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"xiaoer_srv_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str) -> DemoShop:
    from tests.conftest import seed_shop

    return seed_shop(url, "srv")  # type: ignore[no-any-return]


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, like a crash or a power cut for the process."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


# Load tests run every simulated shopper from 127.0.0.1: one address, thousands of clients.
LOOPBACK_CROWD = {
    "XIAOER_WIDGET_LIMITS__HELLOS_PER_IP_PER_MINUTE": "1000000",
    "XIAOER_WIDGET_LIMITS__MESSAGES_PER_IP_PER_MINUTE": "1000000",
}


def start_server(env: dict[str, str], log_dir: Path, port: int | None = None) -> Server:
    port = port or free_port()
    log_path = log_dir / f"server-{port}.log"
    full_env = {
        **os.environ,
        "XIAOER_ENV": "test",
        "XIAOER_LOG_JSON": "false",
        "XIAOER_PASSWORD_HASHING": "cheapest-for-tests",
        **env,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "xiaoer.asgi:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(port, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.http}/readyz", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"server did not become ready:\n{server.log()}")


def login(server: Server, username: str, password: str) -> tuple[httpx.Client, str]:
    """An HTTP client logged in through the real login form; returns it and the CSRF token."""
    client = httpx.Client(base_url=server.http, timeout=15)
    page = client.get("/login")
    token = _CSRF_FIELD.search(page.text)
    assert token, page.text[:500]
    done = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert done.status_code in (200, 303), done.text[:500]
    me = client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    return client, str(me.json()["csrf_token"])


def staff_socket(server: Server, client: httpx.Client) -> ClientConnection:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return connect(f"{server.ws}/ws/agent", additional_headers={"Cookie": cookie})


def receive_until(
    ws: ClientConnection, kind: str, *, timeout: float = 15.0, where: Any = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} frame within {timeout}s; got {seen}")
        frame = json.loads(ws.recv(timeout=left))
        seen.append(frame.get("type"))
        if frame.get("type") == kind and (where is None or where(frame)):
            return dict(frame)
