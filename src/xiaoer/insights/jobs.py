"""Durable work of the insights domain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.insights import clusters
from xiaoer.jobs import job


@job(clusters.CLUSTER_JOB, max_attempts=3)
async def cluster_questions(
    session: AsyncSession,
    *,
    shop_id: int,
    first: str,
    last: str,
    tz: str,
    threshold: float | None,
) -> None:
    """Group a period's unanswered questions and store the grouping (idempotent: the snapshot
    of the period is replaced)."""
    from xiaoer.insights.period import Period

    period = Period(dt.date.fromisoformat(first), dt.date.fromisoformat(last), tz)
    await clusters.store_snapshot(session, shop_id=shop_id, period=period, threshold=threshold)
