"""Chat load benchmark: N concurrent simulated customers over WebSockets (issue §13).

Each customer opens the widget socket of a shop, says hello, then sends messages one after the
other and waits for the bot's answer to each; latency is from sending a message to receiving the
bot's reply (`message.created` from the bot). For each N it runs

- `chat paced`  — customers pause about `--think` seconds (default 5: reading the answer and
  typing the next question) between messages, a realistic chat load: the latency that matters;
- `chat max`    — no pause, every customer sends again as soon as the answer arrives: the
  throughput ceiling of the whole chat path (WebSocket, transaction with fsync, bot, fan-out);
- `echo max`    — the same closed loop against the bare `/ws/echo` endpoint of the same server:
  the framework's own ceiling; `ratio` is chat max ÷ echo max. The endpoint exists only with
  `XIAOER_BENCH_ECHO=true` (set by `--start`; set it yourself on a server given with `--url`).

`errors` counts error frames, failed connections and timeouts; `lost` counts messages sent
without an ack or without a bot answer within `--timeout`.

    python bench/chat_load.py --start sqlite            # temp data dir, demo shop, own server
    python bench/chat_load.py --start postgresql        # fresh database on the local server
    python bench/chat_load.py --url http://127.0.0.1:8000 --shop demo

Only loopback addresses: the load stays on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
# Questions the demo shop's scripts answer without needing an order.
QUESTIONS = [
    "多久发货",
    "付款后多久发货",
    "能发顺丰吗",
    "快递一般几天到",
    "可以开发票吗",
    "七天无理由退货吗",
    "怎么退货",
    "有优惠券吗",
    "尺码怎么选",
    "怎么修改收货地址",
]


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lost: int = 0
    sent: int = 0
    seconds: float = 0.0

    def add(self, other: Result) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.lost += other.lost
        self.sent += other.sent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def chat_customer(
    url: str, messages: int, think: float, limit: float, start: asyncio.Event
) -> Result:
    result = Result()
    try:
        async with websockets.connect(url, max_size=2**20, open_timeout=60) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            while json.loads(await asyncio.wait_for(ws.recv(), limit))["type"] != "ready":
                pass
            await start.wait()
            if think:  # customers arrive at random moments, not all in the same millisecond
                await asyncio.sleep(random.uniform(0, think))
            for _ in range(messages):
                cid = str(uuid.uuid4())
                body = random.choice(QUESTIONS)
                sent_at = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "client_msg_id": cid, "body": body}))
                result.sent += 1
                acked = answered = False
                try:
                    while not (acked and answered):
                        frame = json.loads(await asyncio.wait_for(ws.recv(), limit))
                        kind = frame["type"]
                        if kind == "ack" and frame["client_msg_id"] == cid:
                            acked = True
                        elif kind == "message.created" and frame["message"]["sender_type"] in (
                            "bot",
                            "system",
                        ):
                            if not answered:
                                result.latencies.append(time.perf_counter() - sent_at)
                            answered = True
                        elif kind == "error":
                            result.errors += 1
                            break
                except TimeoutError:
                    result.errors += 1
                    result.lost += 1
                    continue
                if think:
                    await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
    except (OSError, websockets.WebSocketException, TimeoutError):
        result.errors += 1
        result.lost += messages - result.sent
    return result


async def echo_customer(
    url: str, messages: int, think: float, limit: float, start: asyncio.Event
) -> Result:
    result = Result()
    try:
        async with websockets.connect(url, open_timeout=60) as ws:
            await start.wait()
            for _ in range(messages):
                payload = json.dumps(
                    {"type": "message", "client_msg_id": str(uuid.uuid4()), "body": "多久发货"}
                )
                sent_at = time.perf_counter()
                await ws.send(payload)
                result.sent += 1
                try:
                    await asyncio.wait_for(ws.recv(), limit)
                except TimeoutError:
                    result.errors += 1
                    result.lost += 1
                    continue
                result.latencies.append(time.perf_counter() - sent_at)
                if think:
                    await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))
    except (OSError, websockets.WebSocketException, TimeoutError):
        result.errors += 1
        result.lost += messages - result.sent
    return result


async def run_level(
    kind: str, ws_base: str, shop: str, n: int, messages: int, think: float, limit: float
) -> Result:
    url = f"{ws_base}/ws/echo" if kind == "echo" else f"{ws_base}/ws/chat/{shop}"
    worker = echo_customer if kind == "echo" else chat_customer
    start = asyncio.Event()
    tasks = []
    for _ in range(n):  # connect gradually: the measurement starts once everybody is in
        tasks.append(asyncio.create_task(worker(url, messages, think, limit, start)))
        await asyncio.sleep(0.002)
    await asyncio.sleep(min(5.0, 0.5 + n * 0.01))
    began = time.perf_counter()
    start.set()
    total = Result()
    for partial in await asyncio.gather(*tasks):
        total.add(partial)
    total.seconds = time.perf_counter() - began
    return total


@contextlib.contextmanager
def own_server(engine: str) -> Iterator[tuple[str, str]]:
    """Starts `uvicorn` on a free loopback port with a freshly seeded demo shop."""
    sys.path.insert(0, str(ROOT))
    from tests.servers import LOOPBACK_CROWD, fresh_postgres, seed, start_server

    with tempfile.TemporaryDirectory(prefix="xiaoer-bench-") as tmp:
        data = Path(tmp)
        if engine == "postgresql":
            admin = os.environ.get(
                "XIAOER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
            database = fresh_postgres(admin)
        else:
            from xiaoer.migrate import upgrade

            url = f"sqlite+aiosqlite:///{data / 'xiaoer.db'}"
            upgrade(url)
            database = contextlib.nullcontext(url)
        with database as url:
            shop = seed(url)
            server = start_server(
                {
                    "XIAOER_DATABASE_URL": url,
                    "XIAOER_DATA_DIR": str(data),
                    "XIAOER_ENV": "test",
                    "XIAOER_BENCH_ECHO": "true",
                    **LOOPBACK_CROWD,
                },
                data,
            )
            try:
                yield server.http, shop.slug
            finally:
                server.stop()


def git_rev() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    return "?"


async def bench(args: argparse.Namespace, http: str, shop: str) -> None:
    host = urlsplit(http).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise SystemExit("refusing a non-loopback target: this benchmark runs on this machine only")
    ws_base = http.replace("http://", "ws://").replace("https://", "wss://")
    async with httpx.AsyncClient(timeout=30) as client:
        (await client.get(f"{http}/chat/{shop}")).raise_for_status()
    # One chat first: the server trains the shop's bot library on its first question.
    await run_level("chat", ws_base, shop, 1, 2, 0.0, 60.0)
    levels = [int(x) for x in args.levels.split(",")]
    print(
        f"# chat_load: {http} shop={shop} rev={git_rev()} cores={os.cpu_count()} "
        f"engine={args.start or 'external'} messages/customer={args.messages} "
        f"think={args.think}s load-average={os.getloadavg()[0]:.2f}"
    )
    header = (
        f"| {'mode':<11} | {'N':>4} | {'msgs':>5} | {'msg/s':>7} | {'p50 ms':>7} | {'p95 ms':>7} "
        f"| {'p99 ms':>7} | {'errors':>6} | {'lost':>4} | {'ratio':>5} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for n in levels:
        runs = [
            ("chat paced", "chat", args.think),
            ("chat max", "chat", 0.0),
            ("echo max", "echo", 0.0),
        ]
        rates: dict[str, float] = {}
        for label, kind, think in runs:
            result = await run_level(kind, ws_base, shop, n, args.messages, think, args.timeout)
            rate = len(result.latencies) / result.seconds if result.seconds else 0.0
            rates[label] = rate
            ratio = ""
            if label == "echo max" and rate:
                ratio = f"{rates['chat max'] / rate:.3f}"
            print(
                f"| {label:<11} | {n:>4} | {result.sent:>5} | {rate:>7.1f} "
                f"| {pct(result.latencies, 0.50):>7.1f} | {pct(result.latencies, 0.95):>7.1f} "
                f"| {pct(result.latencies, 0.99):>7.1f} | {result.errors:>6} | {result.lost:>4} "
                f"| {ratio:>5} |",
                flush=True,
            )
        await asyncio.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    where.add_argument("--start", choices=["sqlite", "postgresql"], help="start a server")
    parser.add_argument("--shop", default="demo", help="shop slug (with --url)")
    parser.add_argument("--levels", default="10,100,500", help="concurrent customers per run")
    parser.add_argument("--messages", type=int, default=5, help="messages per customer")
    parser.add_argument(
        "--think", type=float, default=5.0, help="mean pause between messages, paced run (s)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per answer")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.url:
        asyncio.run(bench(args, args.url.rstrip("/"), args.shop))
        return
    with own_server(args.start) as (http, shop):
        asyncio.run(bench(args, http, shop))


if __name__ == "__main__":
    main()
