"""Durable jobs: transactional enqueue, retries with back-off, dead jobs, periodic slots once,
no due job lost across a restart, and exactly-once runs with two workers while one is killed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from xiaoer import clock, jobs
from xiaoer.db import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def unique(prefix: str) -> str:
    return f"tests.{prefix}.{uuid.uuid4().hex[:10]}"


async def rows(sessions: Any, name: str) -> list[jobs.Job]:
    async with sessions() as session:
        return list((await session.scalars(select(jobs.Job).where(jobs.Job.name == name))).all())


async def test_enqueued_job_exists_only_if_the_transaction_commits(sessions: Any) -> None:
    name = unique("commit")
    ran: list[int] = []

    @jobs.job(name)
    async def handler(session: Any, *, n: int) -> None:
        ran.append(n)

    async with sessions() as session, session.begin():
        await jobs.enqueue(session, name, n=1)
        await session.rollback()
    async with sessions() as session, session.begin():
        await jobs.enqueue(session, name, n=2)
    await jobs.run_due_jobs(sessions)
    assert ran == [2]
    (row,) = await rows(sessions, name)
    assert (row.status, row.attempts) == (jobs.DONE, 1)


async def test_failing_job_is_retried_with_backoff_then_dead(sessions: Any) -> None:
    name = unique("fail")
    calls: list[dt.datetime] = []

    @jobs.job(name, max_attempts=3)
    async def handler(session: Any) -> None:
        calls.append(clock.now())
        await session.execute(text("SELECT 1"))
        raise RuntimeError("carrier API down")

    start = clock.now()
    with clock.frozen_at(start) as frozen:
        async with sessions() as session, session.begin():
            await jobs.enqueue(session, name)
        await jobs.run_due_jobs(sessions)
        (row,) = await rows(sessions, name)
        assert (row.status, row.attempts) == (jobs.QUEUED, 1)
        assert row.run_at == start + jobs.backoff(1)
        await jobs.run_due_jobs(sessions)
        assert len(calls) == 1  # not due before its back-off
        frozen.advance(jobs.backoff(1))
        await jobs.run_due_jobs(sessions)
        frozen.advance(jobs.backoff(2))
        await jobs.run_due_jobs(sessions)
    (row,) = await rows(sessions, name)
    assert (row.status, row.attempts, len(calls)) == (jobs.DEAD, 3, 3)
    assert "carrier API down" in row.last_error
    async with sessions() as session:
        assert row.id in [j.id for j in await jobs.dead_jobs(session)]
        counts = {c.name: c for c in await jobs.job_counts(session)}
    assert counts[name].dead == 1


async def test_failed_handler_writes_are_rolled_back(sessions: Any, database_url: str) -> None:
    name = unique("partial")
    table = f"t_{uuid.uuid4().hex[:8]}"

    @jobs.job(name, max_attempts=1)
    async def handler(session: Any) -> None:
        await session.execute(text(f"INSERT INTO {table} (v) VALUES (1)"))
        raise ValueError("half done")

    async with sessions() as session, session.begin():
        await session.execute(text(f"CREATE TABLE {table} (v INTEGER)"))
        await jobs.enqueue(session, name)
    await jobs.run_due_jobs(sessions)
    async with sessions() as session:
        assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == 0
    (row,) = await rows(sessions, name)
    assert row.status == jobs.DEAD


async def test_dedupe_key_makes_enqueue_a_no_op(sessions: Any) -> None:
    name = unique("dedupe")

    @jobs.job(name)
    async def handler(session: Any, **_: Any) -> None:
        return None

    async with sessions() as session, session.begin():
        first = await jobs.enqueue(session, name, dedupe_key="order-1", n=1)
        second = await jobs.enqueue(session, name, dedupe_key="order-1", n=2)
    assert first is not None
    assert second is None
    assert len(await rows(sessions, name)) == 1


async def test_unknown_job_and_unserialisable_args_are_refused(sessions: Any) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(KeyError):
            await jobs.enqueue(session, "no.such.job")
        with pytest.raises(TypeError):
            await jobs.enqueue(session, "jobs.prune_finished", when=object())


async def test_periodic_slot_runs_once_however_many_schedulers(sessions: Any) -> None:
    name = unique("periodic")
    ran: list[dt.datetime] = []

    @jobs.periodic(name, every=dt.timedelta(minutes=5))
    async def tick(session: Any) -> None:
        ran.append(clock.now())

    at = dt.datetime(2026, 5, 1, 10, 2, tzinfo=dt.UTC)
    with clock.frozen_at(at) as frozen:
        for _ in range(3):  # three processes scheduling the same slot
            async with sessions() as session, session.begin():
                await jobs.schedule_periodic(session)
        await jobs.run_due_jobs(sessions)
        await jobs.run_due_jobs(sessions)
        assert len(ran) == 1
        frozen.advance(dt.timedelta(minutes=5))
        await jobs.run_due_jobs(sessions)
    assert len(ran) == 2
    slots = sorted(j.run_at for j in await rows(sessions, name))
    assert slots == [
        dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 5, 1, 10, 5, tzinfo=dt.UTC),
    ]


async def test_restart_loses_no_due_job(database_url: str) -> None:
    """Jobs enqueued, a worker stopped part-way (its engine gone, as in a restart), one job
    claimed by a runner that died: a new process runs every job exactly once."""
    name = unique("restart")
    table = f"t_{uuid.uuid4().hex[:8]}"
    seen: list[int] = []
    gate = asyncio.Event()

    @jobs.job(name)
    async def handler(session: Any, *, n: int) -> None:
        await session.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), {"n": n})
        seen.append(n)
        if len(seen) == 5:
            gate.set()
            await asyncio.sleep(30)  # the "process" stops while this job runs

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await session.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
        for n in range(20):
            await jobs.enqueue(session, name, n=n)
    worker = jobs.Worker(sessions, poll_interval=0.05)
    await worker.start()
    await asyncio.wait_for(gate.wait(), timeout=30)
    await worker.stop()
    await engine.dispose()
    if engine.dialect.name == "sqlite":
        # A runner that died holding a lease: its lease has run out by the time we restart.
        async with make_sessionmaker(make_engine(database_url))() as session, session.begin():
            await session.execute(
                text("UPDATE job SET locked_until = :past WHERE name = :n AND status = 'running'"),
                {"past": clock.now() - dt.timedelta(seconds=1), "n": name},
            )

    engine = make_engine(database_url)
    try:
        await jobs.run_due_jobs(make_sessionmaker(engine))
        done = await rows(make_sessionmaker(engine), name)
        async with make_sessionmaker(engine)() as session:
            effects = list((await session.scalars(text(f"SELECT n FROM {table}"))).all())
    finally:
        await engine.dispose()
    assert {j.status for j in done} == {jobs.DONE}
    assert sorted(effects) == list(range(20))  # each job's writes committed exactly once
    assert len(seen) > 20  # the interrupted job (on PostgreSQL: its whole batch) ran again


@pytest.mark.postgresql_only
def test_two_workers_run_each_job_once_while_one_is_killed(database_url: str) -> None:
    name = unique("crash")
    jobs_total = 1000
    from tests.jobs.worker_process import register

    register(name)

    async def setup() -> None:
        engine = make_engine(database_url)
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                text("CREATE TABLE IF NOT EXISTS jobs_test_effect (job_key INTEGER, pid INTEGER)")
            )
            await session.execute(text("DELETE FROM jobs_test_effect"))
            for n in range(jobs_total):
                await jobs.enqueue(session, name, key=n)
        await engine.dispose()

    async def count(query: str) -> int:
        engine = make_engine(database_url)
        async with make_sessionmaker(engine)() as session:
            value = await session.scalar(text(query), {"n": name})
        await engine.dispose()
        return int(value or 0)

    asyncio.run(setup())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.jobs.worker_process", database_url, name]
    workers = [subprocess.Popen(cmd, cwd=ROOT, env=env) for _ in range(2)]
    try:
        deadline = time.monotonic() + 50
        while asyncio.run(count("SELECT count(*) FROM jobs_test_effect")) < 200:
            assert time.monotonic() < deadline, "workers made no progress"
            time.sleep(0.1)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        while asyncio.run(count("SELECT count(*) FROM job WHERE name = :n AND status = 'queued'")):
            assert time.monotonic() < deadline, "the surviving worker did not finish"
            time.sleep(0.2)
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                w.wait(timeout=10)
    per_key = asyncio.run(
        count(
            "SELECT count(*) FROM (SELECT job_key FROM jobs_test_effect GROUP BY job_key"
            " HAVING count(*) = 1) once"
        )
    )
    assert per_key == jobs_total
    assert asyncio.run(count("SELECT count(*) FROM jobs_test_effect")) == jobs_total
    assert asyncio.run(count("SELECT count(DISTINCT pid) FROM jobs_test_effect")) == 2


async def test_worker_status_counts_are_per_job(sessions: Any) -> None:
    name = unique("later")

    @jobs.job(name)
    async def handler(session: Any) -> None:
        return None

    async with sessions() as session, session.begin():
        await jobs.enqueue(session, name, run_at=clock.now() + dt.timedelta(hours=1))
        await jobs.enqueue(session, name)
    async with sessions() as session:
        counts = {c.name: c for c in await jobs.job_counts(session)}
    assert (counts[name].due, counts[name].later, counts[name].dead) == (1, 1, 0)
