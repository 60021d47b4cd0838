"""The one clock every service reads: `now()` returns an aware UTC datetime.

Production reads the system clock. Tests and the demo history set it so that what the services
stamp (created_at, accepted_at, published_at, outbox event times, job run_at …) is what they
choose, without re-implementing the services to backdate rows.

Two ways to set it:
- `frozen_at(t)` / `ticking_from(t)` override the clock for the current asyncio task and the
  tasks it starts (a ContextVar), so concurrent requests in one process never see each other's
  override;
- `set_default(source)` replaces the process-wide source (a CLI command or a test session that
  wants one time for every task); `reset_default()` goes back to the system clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Source = Callable[[], dt.datetime]


def system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_default: Source = system_now
_override: ContextVar[Source | None] = ContextVar("xiaoer_clock_override", default=None)


def now() -> dt.datetime:
    """The current time as an aware UTC datetime, from the override if one is set."""
    source = _override.get() or _default
    value = source()
    if value.tzinfo is None:
        raise ValueError("the clock returned a naive datetime; use aware UTC datetimes")
    return value.astimezone(dt.UTC)


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return at.astimezone(dt.UTC)


class FrozenClock:
    """A clock that stays where it is put; `advance` moves it forward (tests, demo seeding)."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = _aware(at)

    def __call__(self) -> dt.datetime:
        return self.at

    def set(self, at: dt.datetime) -> None:
        self.at = _aware(at)

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.at += delta
        return self.at


@contextmanager
def using(source: Source) -> Iterator[Source]:
    """Read time from `source` in this task (and tasks it creates) until the block ends."""
    token = _override.set(source)
    try:
        yield source
    finally:
        _override.reset(token)


@contextmanager
def frozen_at(at: dt.datetime) -> Iterator[FrozenClock]:
    """Freeze the clock at `at` for this task; the yielded clock can be `set` or `advance`d."""
    clock = FrozenClock(at)
    with using(clock):
        yield clock


@contextmanager
def ticking_from(at: dt.datetime) -> Iterator[Source]:
    """Run the clock from `at` at the system clock's pace (an offset, not a freeze)."""
    offset = _aware(at) - system_now()

    def source() -> dt.datetime:
        return system_now() + offset

    with using(source):
        yield source


def set_default(source: Source) -> None:
    """Replace the process-wide clock (every task without its own override reads it)."""
    global _default
    _default = source


def reset_default() -> None:
    global _default
    _default = system_now
