"""One inbound frame = one unit of work: admitted, committed, then published.

Lock order (SQLite): a unit first gets its pooled connection, then the in-process write turn,
and gives the turn back after commit. Nothing holds the turn while waiting for a connection, so
`hello` and `message` units can no longer wait on each other (the reconnect-storm deadlock:
`hello` held the turn and waited for a connection while `message` held a connection and waited
for the turn). Admission bounds how many units run at once, below the pool size, so units never
queue inside the pool; beyond a bounded wait the client gets `busy` at once and retries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import events, metrics
from xiaoer.db import transaction

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Busy(Exception):
    """The process is at capacity: the client should resend the same frame after a pause."""

    def __init__(self, retry_after_ms: int = 500) -> None:
        super().__init__("busy")
        self.retry_after_ms = retry_after_ms


class Admission:
    """At most `limit` units run at once; others wait in order. A unit whose expected wait
    (the queue ahead of it times the recent unit duration, shared by `limit` runners) exceeds
    `max_wait`, or that finds `queue` units already waiting, is refused at once with `Busy`,
    told to come back when the queue ahead should have drained: a fast, explicit answer the
    client can act on, instead of a long wait that ends in `internal_error`."""

    def __init__(self, limit: int, queue: int, max_wait: float) -> None:
        self.limit = limit
        self.queue = queue
        self.max_wait = max_wait
        self._free = asyncio.Semaphore(limit)
        self.waiting = 0
        self.running = 0
        self.unit_seconds = 0.02  # moving average of a unit's duration under current load

    def expected_wait(self) -> float:
        return (self.waiting + 1) * self.unit_seconds / self.limit

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._free.locked() and (
            self.waiting >= self.queue or self.expected_wait() > self.max_wait
        ):
            metrics.BUSY_REFUSALS.labels("queue_full").inc()
            raise Busy(self._retry_after_ms())
        self.waiting += 1
        metrics.UNITS_WAITING.inc()
        try:
            # A backstop only: the estimate above keeps waits near `max_wait`.
            await asyncio.wait_for(self._free.acquire(), 2 * self.max_wait)
        except TimeoutError:
            metrics.BUSY_REFUSALS.labels("wait_timeout").inc()
            raise Busy(self._retry_after_ms()) from None
        finally:
            self.waiting -= 1
            metrics.UNITS_WAITING.dec()
        self.running += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()
            self.unit_seconds += 0.05 * (time.monotonic() - started - self.unit_seconds)

    def _retry_after_ms(self) -> int:
        # When the queue ahead should have drained, so retries do not arrive as one wave again.
        drain = self.waiting * self.unit_seconds / self.limit
        return int(min(10.0, max(0.25, drain)) * 1000)


def admission(app_state: Any) -> Admission:
    """The process's admission gate for socket units, built on first use from the settings."""
    gate: Admission | None = getattr(app_state, "admission", None)
    if gate is None:
        capacity = app_state.settings.capacity
        gate = app_state.admission = Admission(
            capacity.units_in_flight, capacity.units_waiting, capacity.unit_wait_seconds
        )
    return gate


class WriteTurn:
    """On SQLite, chat units of work take turns inside the process. SQLite has one writer at a
    time anyway; waiting here (FIFO, woken at once) instead of in SQLite's busy handler (which
    polls with sleeps of up to 100 ms) keeps the latency tail short under load. A unit may read
    first and `take()` its turn just before writing, so the bot thinks while another unit
    commits. `take()` is only called while the unit's session holds its connection (the lock
    order above). The turn is given back after commit. PostgreSQL writers need no turn."""

    def __init__(self, app_state: Any) -> None:
        self.lock: asyncio.Lock | None = None
        if app_state.engine.dialect.name == "sqlite":
            self.lock = getattr(app_state, "sqlite_write_lock", None)
            if self.lock is None:
                self.lock = app_state.sqlite_write_lock = asyncio.Lock()
        self.held = False

    async def take(self) -> None:
        if self.lock is not None and not self.held:
            await self.lock.acquire()
            self.held = True

    def give_back(self) -> None:
        if self.lock is not None and self.held:
            self.held = False
            self.lock.release()


async def run_unit(
    app_state: Any,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    retries: int = 1,
    turn: WriteTurn | None = None,
    before_publish: Callable[[T], None] | None = None,
) -> T:
    """Runs `work` in its own transaction, commits, then publishes the frames it queued.
    Without `turn` the unit takes its write turn right after its connection; with one, `work`
    takes it itself (after a read, so the session already holds its connection).
    `before_publish` runs between commit and publish (e.g. to subscribe to a new topic).
    Raises `Busy` when the process is at capacity or no pooled connection came in time."""
    own_turn = turn is None
    write_turn = turn or WriteTurn(app_state)
    async with admission(app_state).slot():
        for attempt in range(retries + 1):
            try:
                async with transaction(app_state.sessions) as session:
                    if own_turn and write_turn.lock is not None:
                        await session.connection()
                        await write_turn.take()
                    try:
                        result = await work(session)
                    except BaseException:
                        events.discard_pending(session)
                        raise
                    pending = events.take_pending(session)
            except IntegrityError:
                if attempt == retries:
                    raise
                continue
            except PoolTimeout:
                metrics.BUSY_REFUSALS.labels("pool_timeout").inc()
                raise Busy() from None
            finally:
                write_turn.give_back()
            break
    if before_publish is not None:
        before_publish(result)
    await app_state.bus.publish_pending(pending)
    return result
