"""Reporting periods: whole days in the shop's time zone, stored times in UTC.

Day buckets are computed without database date functions (which differ between SQLite and
PostgreSQL and ignore the shop's time zone): `day_index` is a CASE over the UTC instants where
the shop's days begin, so a GROUP BY on it counts per local day on both databases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from xiaoer import clock
from xiaoer.errors import InvalidInput

DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Days `first`..`last` (inclusive) in `tz`; `start`/`end` are the UTC bounds [start, end)."""

    first: dt.date
    last: dt.date
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), self.zone).astimezone(dt.UTC)

    @property
    def start(self) -> dt.datetime:
        return self.day_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return self.day_start(self.last + dt.timedelta(days=1))

    @property
    def days(self) -> list[dt.date]:
        n = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=i) for i in range(n)]

    def params(self) -> dict[str, str]:
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}

    def day_index(self, column: Any) -> ColumnElement[int]:
        """0 for the first day, 1 for the second…, for a UTC datetime column inside the period."""
        bounds = [self.day_start(d) for d in self.days[1:]]
        if not bounds:
            return literal(0)
        return case(
            *[(column < b, i) for i, b in enumerate(bounds)],
            else_=len(bounds),
        )


def _zone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return "Asia/Shanghai"
    return tz


def _date(raw: str | None, field: str) -> dt.date | None:
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a date like 2026-05-01", code="invalid_date") from None


def today(tz: str) -> dt.date:
    return clock.now().astimezone(ZoneInfo(_zone(tz))).date()


def parse_period(
    start: str | None, end: str | None, *, tz: str, default_days: int = DEFAULT_DAYS
) -> Period:
    """The period of `start`..`end` (ISO dates, inclusive); missing ends default to the last
    `default_days` days up to today."""
    tz = _zone(tz)
    last = _date(end, "end") or today(tz)
    first = _date(start, "start") or last - dt.timedelta(days=default_days - 1)
    if first > last:
        raise InvalidInput("start must not be after end", code="invalid_period")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"a period is at most {MAX_DAYS} days", code="invalid_period")
    return Period(first=first, last=last, tz=tz)


class seconds_between(FunctionElement[float]):
    """Seconds from the first datetime to the second, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"
