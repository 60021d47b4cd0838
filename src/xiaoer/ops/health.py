"""Readiness checks (`/readyz`) and the gauges `/metrics` reads at scrape time.

A check is an async function of the app state that raises when its part is not usable.
Critical checks (the database) make the process unready (503): a load balancer should send it
nothing. Non-critical ones (Redis) make it `degraded` (200): chats still work in the process and
its customers' messages are acknowledged, so taking every process out during a Redis outage would
turn a partial outage into a full one; `/readyz?strict=1` answers 503 for those too. Other
modules add checks with `readiness_check` (the job scheduler registers "jobs").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import func, select, text

from xiaoer import clock, jobs, metrics
from xiaoer.conversations.inbox import waiting_by_shop
from xiaoer.ops.backup import read_status

log = structlog.get_logger(__name__)

Check = Callable[[Any], Awaitable[dict[str, Any] | None]]
_CHECKS: dict[str, tuple[Check, bool]] = {}
CHECK_TIMEOUT = 3.0


def readiness_check(name: str, *, critical: bool = True) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _CHECKS[name] = (check, critical)
        return check

    return register


@readiness_check("database")
async def _database(state: Any) -> dict[str, Any] | None:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return None


@readiness_check("redis", critical=False)
async def _redis(state: Any) -> dict[str, Any] | None:
    if not state.settings.redis_url:
        return {"configured": False}
    await state.bus.check()
    subscribed = bool(getattr(state.bus, "connected", True))
    if not subscribed:
        raise RuntimeError("reachable, but the listener has not subscribed again yet")
    return {"subscribed": subscribed}


@readiness_check("jobs", critical=False)
async def _jobs(state: Any) -> dict[str, Any] | None:
    worker = getattr(state, "worker", None)
    if worker is None:
        return {"in_process": False}  # `xiaoer worker` processes run them
    tasks = getattr(worker, "_tasks", [])
    if not tasks or any(t.done() for t in tasks):
        raise RuntimeError("the in-process job worker is not running")
    return {"in_process": True}


async def readiness(state: Any) -> tuple[str, dict[str, Any]]:
    """("ready" | "degraded" | "unavailable", each check's outcome)."""

    async def run(check: Check) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            extra = await asyncio.wait_for(check(state), CHECK_TIMEOUT)
        except Exception as exc:  # readiness reports, it never raises
            outcome: dict[str, Any] = {"ok": False, "error": str(exc)[:200] or type(exc).__name__}
        else:
            outcome = {"ok": True, **(extra or {})}
        outcome["ms"] = round((time.perf_counter() - started) * 1000, 1)
        return outcome

    names = list(_CHECKS)
    outcomes = await asyncio.gather(*(run(_CHECKS[n][0]) for n in names))
    checks = dict(zip(names, outcomes, strict=True))
    status = "ready"
    for name, outcome in checks.items():
        if not outcome["ok"]:
            if _CHECKS[name][1]:
                return "unavailable", checks
            status = "degraded"
    return status, checks


async def job_lag(session: Any) -> dict[str, float]:
    """Per job name: seconds since the oldest queued job became due (0 when none is late)."""
    now = clock.now()
    rows = await session.execute(
        select(jobs.Job.name, func.min(jobs.Job.run_at))
        .where(jobs.Job.status == jobs.QUEUED, jobs.Job.run_at <= now)
        .group_by(jobs.Job.name)
    )
    lag = dict.fromkeys(jobs.registered(), 0.0)
    for name, due in rows.all():
        if due is not None and due.tzinfo is None:  # SQLite aggregates drop the type
            due = due.replace(tzinfo=dt.UTC)
        lag[name] = max(0.0, (now - due).total_seconds()) if due is not None else 0.0
    return lag


async def refresh_gauges(state: Any) -> None:
    """Values that live in the database or on disk, read when Prometheus scrapes."""
    try:
        async with state.sessions() as session:
            waiting = await waiting_by_shop(session)
    except Exception:  # a scrape must not fail because one gauge could not be read
        log.warning("gauge_refresh_failed", gauge="waiting", exc_info=True)
    else:
        metrics.WAITING_CONVERSATIONS.clear()
        metrics.OLDEST_WAIT.clear()
        for shop_id, (count, oldest) in waiting.items():
            metrics.WAITING_CONVERSATIONS.labels(str(shop_id)).set(count)
            metrics.OLDEST_WAIT.labels(str(shop_id)).set(oldest)
    try:
        async with state.sessions() as session:
            lag = await job_lag(session)
            counts = await jobs.job_counts(session)
    except Exception:  # as above
        log.warning("gauge_refresh_failed", gauge="job_lag", exc_info=True)
    else:
        metrics.JOB_LAG.clear()
        for name, seconds in lag.items():
            metrics.JOB_LAG.labels(name).set(seconds)
        metrics.JOBS_DEAD.clear()
        for per_job in counts:
            metrics.JOBS_DEAD.labels(per_job.name).set(per_job.dead)
    status = read_status(state.settings.backup_dir)
    if status:
        metrics.BACKUP_LAST_OK.set(1 if status.get("ok") else 0)
        last = status.get("last_success_at")
        if last:
            metrics.BACKUP_LAST_SUCCESS.set(dt.datetime.fromisoformat(last).timestamp())
        metrics.BACKUP_BYTES.set(float(status.get("bytes") or 0))
    gate = getattr(state, "admission", None)
    if gate is not None:
        metrics.UNITS_RUNNING.set(gate.running)
