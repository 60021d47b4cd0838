"""The injectable clock: overrides are per task, the default is process-wide, and what the
services stamp follows it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from xiaoer import clock

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def test_frozen_clock_returns_the_set_time_and_advances() -> None:
    with clock.frozen_at(T0) as frozen:
        assert clock.now() == T0
        frozen.advance(dt.timedelta(minutes=5))
        assert clock.now() == T0 + dt.timedelta(minutes=5)
    assert abs(clock.now() - clock.system_now()) < dt.timedelta(seconds=5)


def test_naive_times_are_refused() -> None:
    with (
        pytest.raises(ValueError, match="timezone-aware"),
        clock.frozen_at(dt.datetime(2026, 1, 1)),
    ):
        pass


async def test_override_does_not_leak_into_a_concurrent_task() -> None:
    seen: dict[str, dt.datetime] = {}
    gate = asyncio.Event()

    async def frozen_task() -> None:
        with clock.frozen_at(T0):
            gate.set()
            await asyncio.sleep(0)
            seen["frozen"] = clock.now()

    async def free_task() -> None:
        await gate.wait()
        seen["free"] = clock.now()

    await asyncio.gather(frozen_task(), free_task())
    assert seen["frozen"] == T0
    assert seen["free"] != T0


def test_process_default_applies_until_reset() -> None:
    clock.set_default(lambda: T0)
    try:
        assert clock.now() == T0
        with clock.frozen_at(T0 + dt.timedelta(days=1)):
            assert clock.now() == T0 + dt.timedelta(days=1)  # a task override wins
    finally:
        clock.reset_default()
    assert clock.now() != T0


def test_ticking_clock_keeps_moving_from_its_start() -> None:
    with clock.ticking_from(T0):
        first = clock.now()
        assert abs(first - T0) < dt.timedelta(seconds=5)
        assert clock.now() >= first


def test_model_defaults_read_the_clock(in_session, demo_shop) -> None:  # type: ignore[no-untyped-def]
    from xiaoer.audit.models import AuditEntry

    async def work(session):  # type: ignore[no-untyped-def]
        with clock.frozen_at(T0):
            entry = AuditEntry(shop_id=demo_shop.shop_id, actor_type="system", action="clock")
            session.add(entry)
            await session.flush()
            await session.refresh(entry)
            return entry.created_at

    assert in_session(work) == T0
