"""Entry points the insights pages and API share: the shop's reporting period and the
overview counts. The statistics themselves live in stats, coverage, clusters, abtest and
proposals."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.insights import abtest, proposals
from xiaoer.insights.period import DEFAULT_DAYS, Period, parse_period
from xiaoer.shops.service import shop_timezone


async def shop_period(
    session: AsyncSession,
    *,
    shop_id: int,
    start: str | None,
    end: str | None,
    default_days: int = DEFAULT_DAYS,
) -> Period:
    """`start`..`end` (ISO dates, inclusive) as days in the shop's time zone."""
    tz = await shop_timezone(session, shop_id=shop_id)
    return parse_period(start, end, tz=tz, default_days=default_days)


async def overview(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    """Badge counts for the insights navigation."""
    return {
        "open_proposals": await proposals.count_open(session, shop_id=shop_id),
        "running_tests": await abtest.count_running(session, shop_id=shop_id),
    }
