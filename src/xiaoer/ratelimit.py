"""Rate limits shared by every abuse defence (logins, shopper verification, widget floods).

Fixed windows counted per key. With Redis configured the counters live there, so every web
process sees the same numbers; on the embedded default (one process on SQLite) they live in this
process's memory. A Redis outage must not open the gates: while Redis fails, the same limits
are counted in memory per process and a warning is logged.

Keys name what is limited and by whom, e.g. `login:user:alice` or `verify:ip:203.0.113.7`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: float  # seconds until the current window ends; 0 when allowed


class MemoryRateLimiter:
    """Counters in this process. Old windows are dropped as new ones start."""

    def __init__(self, clock: Clock = time.time, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}
        self._max_keys = max_keys

    def _bucket(self, window_s: int) -> tuple[int, float]:
        now = self._clock()
        bucket = math.floor(now / window_s)
        return bucket, (bucket + 1) * window_s - now

    async def hit(self, key: str, *, limit: int, window_s: int, cost: int = 1) -> Decision:
        bucket, left = self._bucket(window_s)
        start, count = self._windows.get(key, (bucket, 0))
        if start != bucket:
            count = 0
        count += cost
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._evict(bucket)
        self._windows[key] = (bucket, count)
        return _decide(count, limit, left)

    async def peek(self, key: str, *, limit: int, window_s: int) -> Decision:
        bucket, left = self._bucket(window_s)
        start, count = self._windows.get(key, (bucket, 0))
        return _decide(count if start == bucket else 0, limit, left, counting=False)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def aclose(self) -> None:
        return None

    def _evict(self, bucket: int) -> None:
        # A flood of distinct keys must not grow memory without bound: forget stale windows,
        # and if every window is current, the oldest half.
        stale = [k for k, (b, _c) in self._windows.items() if b != bucket]
        for k in stale or list(self._windows)[: len(self._windows) // 2]:
            del self._windows[k]


class RedisRateLimiter:
    """Counters in Redis (`INCRBY` + `EXPIRE` in one transaction); memory while Redis fails."""

    def __init__(self, redis: Any, *, prefix: str = "xiaoer:rl:", clock: Clock = time.time) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._fallback = MemoryRateLimiter(clock)

    async def hit(self, key: str, *, limit: int, window_s: int, cost: int = 1) -> Decision:
        now = self._clock()
        bucket = math.floor(now / window_s)
        left = (bucket + 1) * window_s - now
        name = f"{self._prefix}{key}:{window_s}:{bucket}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(name, cost)
                pipe.expire(name, window_s + 1)
                count, _ = await pipe.execute()
        except Exception as exc:  # any Redis failure falls back, never opens
            log.warning("ratelimit_redis_unavailable", error=str(exc)[:200])
            return await self._fallback.hit(key, limit=limit, window_s=window_s, cost=cost)
        return _decide(int(count), limit, left)

    async def peek(self, key: str, *, limit: int, window_s: int) -> Decision:
        now = self._clock()
        bucket = math.floor(now / window_s)
        left = (bucket + 1) * window_s - now
        try:
            raw = await self._redis.get(f"{self._prefix}{key}:{window_s}:{bucket}")
        except Exception as exc:
            log.warning("ratelimit_redis_unavailable", error=str(exc)[:200])
            return await self._fallback.peek(key, limit=limit, window_s=window_s)
        return _decide(int(raw or 0), limit, left, counting=False)

    async def reset(self, key: str) -> None:
        await self._fallback.reset(key)
        try:
            keys = [k async for k in self._redis.scan_iter(match=f"{self._prefix}{key}:*")]
            if keys:
                await self._redis.delete(*keys)
        except Exception as exc:
            log.warning("ratelimit_redis_unavailable", error=str(exc)[:200])

    async def aclose(self) -> None:
        await self._redis.aclose()


RateLimiter = MemoryRateLimiter | RedisRateLimiter


def _decide(count: int, limit: int, left: float, *, counting: bool = True) -> Decision:
    allowed = count <= limit if counting else count < limit
    return Decision(allowed=allowed, count=count, limit=limit, retry_after=0 if allowed else left)


def make_rate_limiter(redis_url: str | None, *, prefix: str = "xiaoer:rl:") -> RateLimiter:
    if not redis_url:
        return MemoryRateLimiter()
    import redis.asyncio as redis

    return RedisRateLimiter(redis.from_url(redis_url), prefix=prefix)
