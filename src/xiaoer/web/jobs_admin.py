"""Durable jobs for admins: `/admin/jobs` (page) and `/api/v1/admin/jobs` (JSON) list the
registered jobs with their due/dead counts and the dead jobs of the admin's shop (plus shop-less
system jobs); a dead job can be given another set of attempts once its cause is fixed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select

from xiaoer import jobs
from xiaoer.bounds import Id
from xiaoer.errors import NotFound
from xiaoer.shops.service import shop_timezone
from xiaoer.web.deps import DB, Admin
from xiaoer.web.templating import render

router = APIRouter()


class JobCountRead(BaseModel):
    name: str
    every_seconds: int | None
    due: int
    later: int
    dead: int


class DeadJobRead(BaseModel):
    id: int
    name: str
    attempts: int
    last_error: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class JobsOverview(BaseModel):
    jobs: list[JobCountRead]
    dead: list[DeadJobRead]


async def _overview(session: DB, shop_id: int) -> JobsOverview:
    counts = await jobs.job_counts(session)
    dead = await jobs.dead_jobs(session, shop_id=shop_id)
    return JobsOverview(
        jobs=[
            JobCountRead(
                name=c.name,
                every_seconds=int(c.every.total_seconds()) if c.every else None,
                due=c.due,
                later=c.later,
                dead=c.dead,
            )
            for c in counts
        ],
        dead=[
            DeadJobRead(
                id=j.id,
                name=j.name,
                attempts=j.attempts,
                last_error=j.last_error,
                created_at=j.created_at,
                finished_at=j.finished_at,
            )
            for j in dead
        ],
    )


async def access_dead_job(session: DB, shop_id: int, job_id: int) -> jobs.Job:
    """A dead job of this shop (or a shop-less one); NotFound otherwise."""
    row = await session.scalar(
        select(jobs.Job).where(
            jobs.Job.id == job_id,
            jobs.Job.status == jobs.DEAD,
            (jobs.Job.shop_id == shop_id) | jobs.Job.shop_id.is_(None),
        )
    )
    if row is None:
        raise NotFound("no such dead job")
    return row


@router.get("/api/v1/admin/jobs", tags=["jobs"])
async def jobs_api(session: DB, user: Admin) -> JobsOverview:
    return await _overview(session, user.shop_id)


@router.post("/api/v1/admin/jobs/{job_id}/retry", tags=["jobs"])
async def retry_job(job_id: Id, session: DB, user: Admin) -> dict[str, Any]:
    """Queue a dead job again with a fresh set of attempts."""
    row = await access_dead_job(session, user.shop_id, job_id)
    await jobs.retry_dead(session, job_id=row.id)
    return {"id": row.id, "status": jobs.QUEUED}


@router.get("/admin/jobs", include_in_schema=False)
async def jobs_page(request: Request, session: DB, user: Admin) -> Response:
    overview = await _overview(session, user.shop_id)
    tz = await shop_timezone(session, shop_id=user.shop_id)
    return render(request, "web/jobs.html", {"overview": overview, "tz": tz})
