"""Admins see registered jobs and their shop's dead jobs, and can retry one; other shops' dead
jobs stay invisible and agents are refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from tests.conftest import in_database
from tests.web.login import login
from xiaoer import jobs
from xiaoer.app import create_app

_NAME = f"tests.admin.{uuid.uuid4().hex[:8]}"


@jobs.job(_NAME, max_attempts=1)
async def always_fails(session: Any, **_: Any) -> None:
    raise RuntimeError("label printer offline")


def _dead_job(database_url: str, shop_id: int) -> int:
    async def work(session: Any) -> int:
        job_id = await jobs.enqueue(session, _NAME, shop_id=shop_id, note="<b>x</b>")
        assert job_id is not None
        row = await session.get(jobs.Job, job_id)
        row.status, row.attempts, row.last_error = jobs.DEAD, 1, "RuntimeError: <b>offline</b>"
        return job_id

    return in_database(database_url, work)


@pytest.fixture
def client_without_worker(settings):
    """The app without its in-process worker: a retried job stays queued for the assertion."""
    with TestClient(create_app(settings.model_copy(update={"jobs_in_process": False}))) as c:
        yield c


def test_admin_lists_and_retries_dead_jobs(
    client_without_worker, demo_shop, other_shop, database_url
):
    app_client = client_without_worker
    mine = _dead_job(database_url, demo_shop.shop_id)
    theirs = _dead_job(database_url, other_shop.shop_id)
    admin = demo_shop.login("admin")
    csrf = login(app_client, admin.username, admin.password)

    overview = app_client.get("/api/v1/admin/jobs").json()
    dead_ids = [d["id"] for d in overview["dead"]]
    assert mine in dead_ids
    assert theirs not in dead_ids
    names = {j["name"]: j for j in overview["jobs"]}
    assert names["outbox.deliver"]["every_seconds"] is None
    assert names["jobs.prune_finished"]["every_seconds"] == 6 * 3600
    assert names[_NAME]["dead"] >= 2  # counts are cluster-wide

    page = app_client.get("/admin/jobs")
    assert page.status_code == 200
    assert "失败的任务" in page.text
    assert "&lt;b&gt;offline&lt;/b&gt;" in page.text  # escaped
    assert "Dead jobs" in app_client.get("/admin/jobs?lang=en").text

    h = {"X-CSRF-Token": csrf}
    assert app_client.post(f"/api/v1/admin/jobs/{theirs}/retry", headers=h).status_code == 404
    retried = app_client.post(f"/api/v1/admin/jobs/{mine}/retry", headers=h)
    assert retried.status_code == 200, retried.text

    async def status(session: Any) -> tuple[str, int, str]:
        row = await session.scalar(select(jobs.Job).where(jobs.Job.id == mine))
        return row.status, row.attempts, row.last_error

    assert in_database(database_url, status) == (jobs.QUEUED, 0, "RuntimeError: <b>offline</b>")
    assert app_client.post(f"/api/v1/admin/jobs/{10**9}/retry", headers=h).status_code == 404


def test_agents_cannot_see_jobs(app_client, demo_shop):
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    assert app_client.get("/api/v1/admin/jobs").status_code == 403
