"""Realtime fan-out of frames to topics (`conversation:<id>`, `queue:<shop>`, `agent:<id>`).

In-process by default; with Redis configured every process publishes to Redis and one listener
task per process relays what arrives to its local subscribers, so a customer on one web process
and an agent on another see each other. Frames are queued on the database session and published
only after the transaction commits (`after_commit`), so nobody sees what might roll back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

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

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBus(LocalBus):
    """Publishes through Redis pub/sub; one listener per process delivers to local subscribers."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, topic: str, frame: Frame) -> None:
        await self._redis.publish(_CHANNEL_PREFIX + topic, json.dumps(frame, ensure_ascii=False))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(_CHANNEL_PREFIX + "*")
                self._ready.set()
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    topic = message["channel"].decode()[len(_CHANNEL_PREFIX) :]
                    try:
                        frame = json.loads(message["data"])
                    except ValueError:  # someone else's message on our prefix: skip, keep going
                        log.warning("redis_bad_frame", topic=topic)
                        continue
                    self.deliver(topic, frame)
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect: Redis restarts must not kill realtime for good
                log.exception("redis_listener_failed")
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
