"""Durable jobs: rows in the `job` table, run by a worker loop, retried with back-off.

Register work in a domain's `jobs.py`:

    @job("insights.cluster_questions", max_attempts=3)
    async def cluster_questions(session, *, shop_id: int, ...) -> None: ...

    @periodic("knowledge.prune", every=timedelta(hours=1))
    async def prune(session) -> None: ...

and enqueue it inside the caller's transaction (it commits or rolls back with the change):

    await enqueue(session, "insights.cluster_questions", shop_id=shop.id)

How a job runs: one transaction claims a due row (`SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent workers never take the same row), runs the handler inside a SAVEPOINT
and marks the row done in the same transaction. The handler's writes and "done" therefore commit
together: a worker killed mid-job (even SIGKILL) leaves the row queued and its lock released, and
another worker runs it again. Handlers must be idempotent anyway (a job may also run again after
a failure that happened past its own writes, e.g. a commit that timed out). A handler that raises
has its writes rolled back, the attempt counted and the row rescheduled with exponential back-off;
after `max_attempts` the row is `dead` and listed for admins.

Periodic jobs are scheduled by every worker, but each due slot is a row with a unique
(name, dedupe_key = slot time) key, so a slot runs once across all processes.

On SQLite the single process runs its jobs (SQLite has one writer anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import os
import pkgutil
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaoer import clock
from xiaoer.db import Base, BigId, IdMixin

log = structlog.get_logger(__name__)

Handler = Callable[..., Awaitable[Any]]

QUEUED = "queued"
RUNNING = "running"  # SQLite only: claimed under a lease
DONE = "done"
DEAD = "dead"

BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_CAP = dt.timedelta(hours=1)
KEEP_FINISHED = dt.timedelta(days=7)
BATCH = 20  # PostgreSQL: rows claimed per transaction
BATCH_SECONDS = 0.5  # … as long as the batch's jobs are quick
LEASE = dt.timedelta(minutes=10)  # SQLite: a claimed job is due again after this
_WAKE_KEY = "xiaoer.jobs_enqueued"
_EPOCH = dt.datetime(2000, 1, 3, tzinfo=dt.UTC)  # a Monday: weekly slots start on Mondays


class Job(IdMixin, Base):
    """One unit of deferred work. `status`: queued → done, or → dead after max_attempts."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("name", "dedupe_key"),
        Index("ix_job_status_run_at", "status", "run_at"),
    )

    name: Mapped[str] = mapped_column(String(100), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    run_at: Mapped[dt.datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    worker: Mapped[str] = mapped_column(String(100), default="")
    shop_id: Mapped[int | None] = mapped_column(BigId, default=None)  # for the admin list
    lock_token: Mapped[str | None] = mapped_column(String(32), default=None)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)


class PermanentJobError(Exception):
    """Raised by a handler when trying again cannot help: the job is dead at once."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int
    every: dt.timedelta | None = None  # set for periodic jobs


_REGISTRY: dict[str, JobSpec] = {}
_running: ContextVar[Job | None] = ContextVar("xiaoer_running_job", default=None)
_loaded = False


def _register(spec: JobSpec) -> None:
    existing = _REGISTRY.get(spec.name)
    # Re-importing a module registers the same function again (fine); two different functions
    # claiming one name is a bug.
    if existing is not None and existing.handler.__qualname__ != spec.handler.__qualname__:
        raise ValueError(f"job {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec


def job(name: str, *, max_attempts: int = 5) -> Callable[[Handler], Handler]:
    """Register `async def handler(session, **args)` as the one-off job `name`."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def decorate(handler: Handler) -> Handler:
        _register(JobSpec(name, handler, max_attempts))
        return handler

    return decorate


def periodic(
    name: str, *, every: dt.timedelta, max_attempts: int = 3
) -> Callable[[Handler], Handler]:
    """Register `async def handler(session)` to run once per `every` across all processes.

    Slots are aligned to a fixed epoch, so every process agrees on them; a slot missed while no
    worker ran is not made up (the next slot runs)."""
    if every < dt.timedelta(seconds=1):
        raise ValueError("periodic jobs run at most once a second")

    def decorate(handler: Handler) -> Handler:
        _register(JobSpec(name, handler, max_attempts, every))
        return handler

    return decorate


def import_domain_modules(filename: str) -> None:
    """Import `xiaoer.<domain>.<filename>` for every domain that has that file. The file system
    is asked first: importing a domain package just to look would load heavy domains (nlp)."""
    import xiaoer

    for info in pkgutil.iter_modules(xiaoer.__path__):
        if info.ispkg and (Path(xiaoer.__path__[0]) / info.name / f"{filename}.py").exists():
            importlib.import_module(f"xiaoer.{info.name}.{filename}")


def load_job_modules() -> None:
    """Import every `xiaoer.<domain>.jobs` so their jobs are registered (idempotent)."""
    global _loaded
    if _loaded:
        return
    import_domain_modules("jobs")
    importlib.import_module("xiaoer.outbox")  # the outbox's delivery job and sweep
    _loaded = True


def registered() -> dict[str, JobSpec]:
    load_job_modules()
    return dict(_REGISTRY)


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Job)


async def enqueue(
    session: AsyncSession,
    name: str,
    run_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    **args: Any,
) -> int | None:
    """Add a job in the caller's transaction. Returns its id, or None when a job with the same
    (name, dedupe_key) already exists (enqueueing is then a no-op)."""
    spec = registered().get(name)
    if spec is None:
        raise KeyError(f"no job named {name!r}")
    if run_at is not None and run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    json.dumps(args)  # arguments must survive the database: fail here, not in the worker
    shop_id = args.get("shop_id")
    values = {
        "name": name,
        "args": args,
        "status": QUEUED,
        "run_at": run_at or clock.now(),
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "dedupe_key": dedupe_key,
        "last_error": "",
        "created_at": clock.now(),
        "worker": "",
        "shop_id": shop_id if isinstance(shop_id, int) else None,
    }
    statement = _insert(session).values(**values)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["name", "dedupe_key"])
    job_id = await session.scalar(statement.returning(Job.id))
    session.info[_WAKE_KEY] = True
    return int(job_id) if job_id is not None else None


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after `attempts` failed ones: 10 s, 20 s, 40 s … up to 1 h."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_CAP)


def slot_of(every: dt.timedelta, at: dt.datetime) -> dt.datetime:
    periods = (at - _EPOCH) // every
    return _EPOCH + periods * every


async def schedule_periodic(session: AsyncSession, at: dt.datetime | None = None) -> int:
    """Insert the current due slot of every periodic job (no-op for slots that exist)."""
    at = at or clock.now()
    created = 0
    for spec in registered().values():
        if spec.every is None:
            continue
        slot = slot_of(spec.every, at)
        job_id = await enqueue(
            session, spec.name, run_at=slot, dedupe_key=f"slot:{slot:%Y%m%dT%H%M%S}"
        )
        created += job_id is not None
    return created


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _due(now: dt.datetime) -> Any:
    # A `running` row only exists on SQLite (see run_one); its lease ran out: its runner died.
    return ((Job.status == QUEUED) & (Job.run_at <= now)) | (
        (Job.status == RUNNING) & (Job.locked_until < now)
    )


async def run_one(
    sessions: async_sessionmaker[AsyncSession], *, job_id: int | None = None, worker: str = ""
) -> int:
    """Claim and run due jobs in one transaction (on PostgreSQL a short batch, on SQLite one),
    or only the given one if it is due. Returns how many ran; 0 when none was due."""
    if _dialect(sessions) == "postgresql":
        return await _run_locked(sessions, job_id, worker or worker_name())
    return await _run_leased(sessions, job_id, worker or worker_name())


def _dialect(sessions: async_sessionmaker[AsyncSession]) -> str:
    bind = sessions.kw.get("bind")
    if bind is None:
        raise RuntimeError("the jobs need a sessionmaker bound to an engine")
    return str(bind.dialect.name)


def _query(now: dt.datetime, job_id: int | None, limit: int = 1) -> Any:
    query = select(Job).where(_due(now))
    if job_id is not None:
        query = query.where(Job.id == job_id)
    return query.order_by(Job.run_at, Job.id).limit(limit)


async def _run_locked(
    sessions: async_sessionmaker[AsyncSession], job_id: int | None, worker: str
) -> int:
    """PostgreSQL: the row stays locked (FOR UPDATE) for the whole run; other workers skip it,
    and if this process dies the lock goes with its connection and the row is due again."""
    async with sessions() as session, session.begin():
        claimed = await session.scalars(
            _query(clock.now(), job_id, BATCH).with_for_update(skip_locked=True)
        )
        batch = list(claimed)
        if not batch:
            return 0
        # Several short jobs share one commit (each in its own SAVEPOINT); rows not reached
        # within the budget stay queued, unchanged, and are claimed again after the commit.
        started = time.monotonic()
        ran = 0
        for row in batch:
            row.worker = worker
            await _execute(session, row)
            ran += 1
            if time.monotonic() - started > BATCH_SECONDS:
                break
        return ran


async def _run_leased(
    sessions: async_sessionmaker[AsyncSession], job_id: int | None, worker: str
) -> int:
    """SQLite: claim with a short write (a lease), run in a second transaction, and finish only
    if the lease is still ours; holding SQLite's single write lock for a whole run would stall
    every request that writes."""
    token = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        now = clock.now()
        found = await session.scalar(_query(now, job_id).with_only_columns(Job.id))
        if found is None:
            return 0
        claimed = await session.execute(
            update(Job)
            .where(Job.id == found, _due(now))
            .values(status=RUNNING, lock_token=token, locked_until=now + LEASE, worker=worker)
        )
        if not getattr(claimed, "rowcount", 0):
            return 1  # another runner took it between our read and write: look again
    async with sessions() as session, session.begin():
        row = await session.get(Job, found)
        if row is None or row.lock_token != token:
            return 0
        await _execute(session, row)
        row.lock_token = None
        row.locked_until = None
    return 1


async def _execute(session: AsyncSession, row: Job) -> None:
    """Run the handler in a SAVEPOINT; record success or the failure on `row` (same txn)."""
    spec = registered().get(row.name)
    try:
        if spec is None:
            raise LookupError(f"no handler registered for job {row.name!r}")
        async with session.begin_nested():
            token = _running.set(row)
            try:
                if spec.every is None:
                    await spec.handler(session, **row.args)
                else:
                    await spec.handler(session)
            finally:
                _running.reset(token)
    except Exception as exc:
        row.attempts += 1
        row.last_error = "".join(traceback.format_exception_only(exc)).strip()[-2000:]
        if row.attempts >= row.max_attempts or isinstance(exc, PermanentJobError):
            row.status = DEAD
            row.finished_at = clock.now()
            log.error("job_dead", job=row.name, job_id=row.id, error=row.last_error)
        else:
            row.status = QUEUED
            row.run_at = clock.now() + backoff(row.attempts)
            log.warning("job_failed", job=row.name, job_id=row.id, attempts=row.attempts)
        return
    row.attempts += 1
    row.status = DONE
    row.finished_at = clock.now()


def current_job() -> Job | None:
    """The job row whose handler is running in this task, if any."""
    return _running.get()


async def run_due_jobs(
    sessions: async_sessionmaker[AsyncSession], *, limit: int = 10_000, periodic_slots: bool = True
) -> int:
    """Run every job due now in this task, one after another (tests, `xiaoer jobs run`).
    Returns how many ran (successes and failures)."""
    if periodic_slots:
        async with sessions() as session, session.begin():
            await schedule_periodic(session)
    count = 0
    while count < limit:
        ran = await run_one(sessions)
        if not ran:
            break
        count += ran
    return count


async def run_job_now(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    """Enqueue `name` (no arguments) for now and run it at once; returns its id."""
    async with sessions() as session, session.begin():
        job_id = await enqueue(session, name)
    assert job_id is not None
    await run_one(sessions, job_id=job_id)
    return job_id


async def prune_finished(session: AsyncSession, *, older_than: dt.timedelta = KEEP_FINISHED) -> int:
    """Delete done rows past their keep time (dead rows stay until an admin deals with them)."""
    result = await session.execute(
        delete(Job).where(Job.status == DONE, Job.finished_at < clock.now() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@periodic("jobs.prune_finished", every=dt.timedelta(hours=6))
async def _prune_job(session: AsyncSession) -> None:
    await prune_finished(session)


async def retry_dead(session: AsyncSession, *, job_id: int) -> bool:
    """Give a dead job another full set of attempts (an admin fixed the cause)."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == DEAD)
        .values(status=QUEUED, attempts=0, run_at=clock.now(), finished_at=None)
    )
    session.info[_WAKE_KEY] = True
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class JobCounts:
    name: str
    due: int
    later: int
    dead: int
    every: dt.timedelta | None


async def job_counts(session: AsyncSession) -> list[JobCounts]:
    """Per registered job (and any name found in the table): due now, scheduled later, dead."""
    now = clock.now()
    rows = await session.execute(
        select(
            Job.name,
            func.sum(case(((Job.status == QUEUED) & (Job.run_at <= now), 1), else_=0)),
            func.sum(case(((Job.status == QUEUED) & (Job.run_at > now), 1), else_=0)),
            func.sum(case((Job.status == DEAD, 1), else_=0)),
        ).group_by(Job.name)
    )
    found = {name: (int(d or 0), int(lt or 0), int(x or 0)) for name, d, lt, x in rows}
    specs = registered()
    names = sorted(set(specs) | set(found))
    return [
        JobCounts(
            n,
            *found.get(n, (0, 0, 0)),
            every=specs[n].every if n in specs else None,
        )
        for n in names
    ]


async def dead_jobs(
    session: AsyncSession, *, shop_id: int | None = None, limit: int = 100
) -> list[Job]:
    """Dead jobs, newest first; with `shop_id`, that shop's and the shop-less (system) ones."""
    query = select(Job).where(Job.status == DEAD)
    if shop_id is not None:
        query = query.where((Job.shop_id == shop_id) | Job.shop_id.is_(None))
    return list((await session.scalars(query.order_by(Job.id.desc()).limit(limit))).all())


# --- the worker -------------------------------------------------------------------------------

_workers: set[Worker] = set()


class Worker:
    """Runs due jobs and schedules periodic slots until stopped. One per process is enough;
    `concurrency` tasks share it (PostgreSQL: several jobs at once; SQLite: keep 1)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        poll_interval: float = 1.0,
        concurrency: int = 1,
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.name = name or worker_name()
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._last_slots: dict[str, dt.datetime] = {}

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        load_job_modules()
        self._stopping = False
        _workers.add(self)
        self._tasks = [asyncio.create_task(self._loop(i)) for i in range(self.concurrency)]

    async def stop(self) -> None:
        self._stopping = True
        _workers.discard(self)
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def _schedule(self) -> None:
        now = clock.now()
        changed = False
        for spec in registered().values():
            if spec.every is not None and self._last_slots.get(spec.name) != slot_of(
                spec.every, now
            ):
                changed = True
        if not changed:
            return  # one INSERT … ON CONFLICT per new slot, not per poll
        async with self.sessions() as session, session.begin():
            await schedule_periodic(session, now)
        for spec in registered().values():
            if spec.every is not None:
                self._last_slots[spec.name] = slot_of(spec.every, now)

    async def _loop(self, index: int) -> None:
        while not self._stopping:
            try:
                if index == 0:
                    await self._schedule()
                while not self._stopping and await run_one(self.sessions, worker=self.name):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: keep the loop, retry after a pause
                log.exception("job_worker_error", worker=self.name)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)


def _wake_after_commit(session: Session) -> None:
    # Jobs enqueued in this transaction are visible now: nudge this process's workers so
    # outbox deliveries and short jobs run without waiting for the next poll.
    if session.info.pop(_WAKE_KEY, False):
        for worker in list(_workers):
            worker.wake()


def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)


event.listen(Session, "after_commit", _wake_after_commit)
event.listen(Session, "after_soft_rollback", lambda s, _t: _forget_on_rollback(s))
