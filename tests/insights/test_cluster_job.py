"""Large sets of unanswered questions are grouped by the `insights.cluster_questions` job: the
page says the grouping is being computed, then shows the job's result."""

from __future__ import annotations

import asyncio

from tests.insights.test_feedback import _seed_unanswered, as_role, window
from xiaoer import jobs
from xiaoer.db import make_engine, make_sessionmaker
from xiaoer.insights import clusters


def run_jobs(database_url: str) -> int:
    async def run() -> int:
        engine = make_engine(database_url)
        try:
            return await jobs.run_due_jobs(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_big_question_sets_are_grouped_by_a_job(app_client, demo_shop, database_url, monkeypatch):
    ids = _seed_unanswered(database_url, demo_shop.shop_id)
    h = as_role(app_client, demo_shop, "supervisor")
    inline = app_client.get("/api/v1/insights/unanswered", params=window()).json()
    assert inline["pending"] is False
    expected = [sorted(c["decision_ids"]) for c in inline["clusters"]]
    assert expected[0] == ids["invoice"]

    monkeypatch.setattr(clusters, "INLINE_MAX", 1)  # 7 questions now count as "many"
    # The first look finds no grouping yet. (The app's own worker may run the job right after
    # this request, so only the first response is sure to be pending.)
    page = app_client.get("/insights/unanswered", params=window())
    assert 'data-testid="unanswered-pending"' in page.text
    assert 'data-testid="cluster"' not in page.text

    run_jobs(database_url)
    ready = app_client.get("/api/v1/insights/unanswered", params=window()).json()
    assert ready["pending"] is False
    assert ready["computed_at"] is not None
    assert [sorted(c["decision_ids"]) for c in ready["clusters"]] == expected
    assert ready["clusters"][0]["suggested_script"]["title"] == "开具发票"

    # A dismissed group disappears at once, without waiting for the next grouping.
    app_client.post(
        "/api/v1/insights/unanswered/dismiss", json={"decision_ids": ids["points"]}, headers=h
    )
    after = app_client.get("/api/v1/insights/unanswered", params=window()).json()
    assert [sorted(c["decision_ids"]) for c in after["clusters"]] == expected[:2]
