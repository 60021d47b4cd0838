"""Realtime fan-out of frames to topics (`conversation:<id>`, `queue:<shop>`, `agent:<id>`).

In-process by default; with Redis configured every process also publishes to Redis and one
listener task per process relays what other processes published to its local subscribers, so a
customer on one web process and an agent on another see each other. Frames are queued on the
database session and published only after the transaction commits, so nobody sees what might
roll back.

Redis is a convenience, never a condition: publishing never raises. Local subscribers get their
frames directly; while Redis is unreachable frames for other processes are dropped (the data is
committed), and when the listener subscribes again every local subscription is marked stale so
its socket closes and the client resumes from the database (the widget's `hello` with its last
message id, the workspace's reload) — the catch-up for what other processes published meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import metrics

log = structlog.get_logger(__name__)

Frame = dict[str, Any]
_PENDING_KEY = "xiaoer.pending_frames"
_CHANNEL_PREFIX = "xiaoer:"


def queue_frame(session: AsyncSession, topics: Iterable[str], frame: Frame) -> None:
    """Publish `frame` to `topics` once the session's transaction has committed."""
    session.info.setdefault(_PENDING_KEY, []).append((tuple(topics), frame))


def take_pending(session: AsyncSession) -> list[tuple[tuple[str, ...], Frame]]:
    return session.info.pop(_PENDING_KEY, [])


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING_KEY, None)


class Subscription:
    def __init__(self, bus: LocalBus, topics: Iterable[str]) -> None:
        self._bus = bus
        self.topics: set[str] = set(topics)
        self.queue: asyncio.Queue[tuple[str, Frame]] = asyncio.Queue(maxsize=1000)
        # Set when a frame was dropped: the socket should close so its client resumes from
        # the database rather than silently missing frames.
        self.overflowed = False
        # Set when frames from other processes may have been missed (the bus was away).
        self.stale = False
        for topic in self.topics:
            bus._subscribers[topic].add(self)

    def add(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            self._bus._subscribers[topic].add(self)

    def discard(self, topic: str) -> None:
        if topic in self.topics:
            self.topics.discard(topic)
            subs = self._bus._subscribers.get(topic)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._bus._subscribers[topic]

    def close(self) -> None:
        for topic in self.topics:
            subs = self._bus._subscribers.get(topic)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._bus._subscribers[topic]

    def invalidate(self) -> None:
        """Frames may have been missed: wake the reader, which should make its client resume."""
        self.stale = True
        try:
            self.queue.put_nowait(("", {"type": "resync"}))
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> tuple[str, Frame]:
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[tuple[str, Frame]]:
        while True:
            yield await self.queue.get()


class LocalBus:
    """Fan-out inside this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        return Subscription(self, topics)

    def deliver(self, topic: str, frame: Frame) -> None:
        for sub in list(self._subscribers.get(topic, ())):
            try:
                sub.queue.put_nowait((topic, frame))
            except asyncio.QueueFull:
                # A stuck client must not stall everyone; it resumes from the database.
                sub.overflowed = True
                log.warning("subscriber_queue_full", topic=topic)

    async def publish(self, topic: str, frame: Frame) -> None:
        self.deliver(topic, frame)

    async def publish_pending(self, pending: list[tuple[tuple[str, ...], Frame]]) -> None:
        for topics, frame in pending:
            for topic in topics:
                await self.publish(topic, frame)

    def invalidate_all(self) -> None:
        for sub in {s for subs in self._subscribers.values() for s in subs}:
            sub.invalidate()

    async def check(self) -> None:
        """Raises if the bus cannot carry frames between processes (readiness)."""
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBus(LocalBus):
    """Delivers locally and publishes through Redis pub/sub; one listener per process delivers
    other processes' frames to local subscribers. Wire format: `{"origin": <process>, "frame":
    …}` on channel `xiaoer:<topic>` (a bare frame is accepted too)."""

    # While Redis is away, publishing is skipped for this long after a failure, so a message's
    # frames do not each wait for a connect timeout.
    RETRY_AFTER_FAILURE = 1.0

    def __init__(self, url: str, *, prefix: str = _CHANNEL_PREFIX) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._prefix = prefix
        self.origin = uuid.uuid4().hex
        self.connected = False
        self._ever_subscribed = False
        self._skip_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, topic: str, frame: Frame) -> None:
        self.deliver(topic, frame)
        if not self.connected or time.monotonic() < self._skip_until:
            metrics.BUS_PUBLISH_FAILURES.inc()
            return
        payload = json.dumps({"origin": self.origin, "frame": frame}, ensure_ascii=False)
        try:
            await self._redis.publish(self._prefix + topic, payload)
        except Exception as exc:  # any Redis failure: local delivery is done, the rest catch up
            self._skip_until = time.monotonic() + self.RETRY_AFTER_FAILURE
            metrics.BUS_PUBLISH_FAILURES.inc()
            log.warning("redis_publish_failed", topic=topic, error=str(exc)[:200])

    async def check(self) -> None:
        await asyncio.wait_for(self._redis.ping(), timeout=2)

    async def start(self) -> None:
        """Starts the listener; a Redis that is down now does not stop the process from serving
        (readiness reports it, and the listener keeps trying)."""
        self._task = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=5)
        except TimeoutError:
            log.warning("redis_unavailable_at_start")

    def _subscribed(self) -> None:
        if self._ever_subscribed:
            # Back after an outage (or a silent reconnect inside redis-py): whatever other
            # processes published meanwhile never reached us.
            log.info("redis_listener_resubscribed")
            self.invalidate_all()
        self._ever_subscribed = True
        self.connected = True
        self._skip_until = 0.0
        metrics.BUS_CONNECTED.set(1)
        self._ready.set()

    def _relay(self, message: dict[str, Any]) -> None:
        topic = message["channel"].decode()[len(self._prefix) :]
        try:
            data = json.loads(message["data"])
        except ValueError:  # someone else's message on our prefix: skip, keep going
            log.warning("redis_bad_frame", topic=topic)
            return
        if isinstance(data, dict) and "origin" in data and "frame" in data:
            if data["origin"] == self.origin:
                return  # delivered locally when it was published
            data = data["frame"]
        if isinstance(data, dict):
            self.deliver(topic, data)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                async for message in pubsub.listen():
                    if message["type"] == "psubscribe":
                        self._subscribed()
                    elif message["type"] == "pmessage":
                        self._relay(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect: Redis restarts must not kill realtime for good
                if self.connected:
                    log.warning("redis_listener_lost", error=str(exc)[:200])
                self.connected = False
                metrics.BUS_CONNECTED.set(0)
                await asyncio.sleep(1)
            finally:
                # Release the old connection before subscribing again (no leak per reconnect).
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()


def make_bus(redis_url: str | None) -> LocalBus:
    return RedisBus(redis_url) if redis_url else LocalBus()
