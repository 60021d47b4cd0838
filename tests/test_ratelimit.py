"""Rate limits: fixed windows per key, shared through Redis, never open while Redis fails."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis

from xiaoer.ratelimit import MemoryRateLimiter, RedisRateLimiter
from xiaoer.web.clientip import resolve_client_ip


class FakeClock:
    """Time as a number the test moves (the limiter's only input besides the keys)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_blocks_past_the_limit_and_opens_in_the_next_window() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)

    async def run() -> list[bool]:
        seen = [(await limiter.hit("k", limit=3, window_s=60)).allowed for _ in range(5)]
        blocked = await limiter.hit("k", limit=3, window_s=60)
        assert blocked.retry_after > 0
        assert (await limiter.hit("other", limit=3, window_s=60)).allowed
        clock.now += 60
        seen.append((await limiter.hit("k", limit=3, window_s=60)).allowed)
        return seen

    assert asyncio.run(run()) == [True, True, True, False, False, True]


def test_memory_limiter_peek_does_not_count_and_reset_forgets() -> None:
    limiter = MemoryRateLimiter(FakeClock())

    async def run() -> tuple[bool, bool, bool]:
        for _ in range(2):
            await limiter.hit("k", limit=2, window_s=60)
        full = (await limiter.peek("k", limit=2, window_s=60)).allowed
        await limiter.reset("k")
        after_reset = (await limiter.peek("k", limit=2, window_s=60)).allowed
        counted = (await limiter.hit("k", limit=2, window_s=60)).count == 1
        return full, after_reset, counted

    assert asyncio.run(run()) == (False, True, True)


def test_memory_limiter_memory_stays_bounded_under_a_flood_of_keys() -> None:
    limiter = MemoryRateLimiter(FakeClock(), max_keys=100)

    async def run() -> None:
        for i in range(1000):
            await limiter.hit(f"ip:{i}", limit=5, window_s=60)

    asyncio.run(run())
    assert len(limiter._windows) <= 100


@pytest.mark.redis
def test_redis_limiter_counts_across_clients_sharing_one_redis() -> None:
    prefix = f"test:{uuid.uuid4().hex}:"

    async def run() -> list[bool]:
        clock = FakeClock()
        a = RedisRateLimiter(redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix, clock=clock)
        b = RedisRateLimiter(redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix, clock=clock)
        try:
            seen = []
            for limiter in (a, b, a, b):
                seen.append((await limiter.hit("login:ip:1.2.3.4", limit=3, window_s=60)).allowed)
            await a.reset("login:ip:1.2.3.4")
            seen.append((await b.hit("login:ip:1.2.3.4", limit=3, window_s=60)).allowed)
            return seen
        finally:
            await a.aclose()
            await b.aclose()

    assert asyncio.run(run()) == [True, True, True, False, True]


def test_redis_limiter_keeps_limiting_in_memory_when_redis_is_down() -> None:
    async def run() -> list[bool]:
        # Nothing listens on port 1: every Redis call fails at once.
        limiter = RedisRateLimiter(redis.from_url("redis://127.0.0.1:1/0"), clock=FakeClock())
        try:
            return [(await limiter.hit("k", limit=2, window_s=60)).allowed for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == [True, True, False]


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "expected"),
    [
        # No trusted proxy configured: the header is ignored whatever it says.
        ("203.0.113.9", "1.1.1.1", [], "203.0.113.9"),
        # A peer that is not a trusted proxy cannot choose its address.
        ("203.0.113.9", "1.1.1.1", ["10.0.0.0/8"], "203.0.113.9"),
        # Behind a trusted proxy: the right-most untrusted hop is the client.
        ("10.0.0.2", "198.51.100.4", ["10.0.0.0/8"], "198.51.100.4"),
        # A client prepending a fake hop does not change the answer.
        ("10.0.0.2", "1.1.1.1, 198.51.100.4", ["10.0.0.0/8"], "198.51.100.4"),
        ("10.0.0.2", "198.51.100.4, 10.0.0.7", ["10.0.0.0/8"], "198.51.100.4"),
        ("10.0.0.2", "not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, header: str | None, trusted: list[str], expected: str
) -> None:
    assert resolve_client_ip(peer, header, trusted) == expected
