"""Domain events through the outbox: written with the change or not at all, delivered after
commit through jobs, retried on failure without losing the event, with a cause chain that
stops loops; and the services publish their facts."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from xiaoer import jobs, outbox
from xiaoer.bot.engine import BotRegistry
from xiaoer.conversations import service as conversations
from xiaoer.customers import service as customers
from xiaoer.db import make_engine, make_sessionmaker


@outbox.event_type("tests.parcel_lost")
@dataclass(frozen=True, kw_only=True)
class ParcelLost(outbox.DomainEvent):
    order_no: str
    tags: list[str]


@outbox.event_type("tests.ping")
@dataclass(frozen=True, kw_only=True)
class Ping(outbox.DomainEvent):
    run: str


received: list[ParcelLost] = []
failures: dict[str, int] = {}
pings: list[Ping] = []


@outbox.handles(ParcelLost)
async def remember(session: Any, event: ParcelLost) -> None:
    left = failures.get(event.order_no, 0)
    if left:
        failures[event.order_no] = left - 1
        raise ConnectionError("courier API timed out")
    received.append(event)


@outbox.handles(Ping)
async def ping_back(session: Any, event: Ping) -> None:
    """A handler that reacts to its own kind of event: the loop guard must end the chain."""
    pings.append(event)
    await outbox.publish(session, Ping(shop_id=event.shop_id, actor=outbox.SYSTEM, run=event.run))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def lost(order_no: str, shop_id: int) -> ParcelLost:
    return ParcelLost(
        shop_id=shop_id, actor=outbox.EventActor("user", 7), order_no=order_no, tags=["顺丰"]
    )


async def test_rolled_back_change_publishes_nothing(sessions: Any, demo_shop: Any) -> None:
    order_no = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        event = await outbox.publish(session, lost(order_no, demo_shop.shop_id))
        await session.rollback()
    await jobs.run_due_jobs(sessions)
    async with sessions() as session:
        assert await outbox.load_event(session, event.id) is None
    assert order_no not in [e.order_no for e in received]


async def test_committed_event_reaches_its_handler_once(sessions: Any, demo_shop: Any) -> None:
    order_no = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        event = await outbox.publish(session, lost(order_no, demo_shop.shop_id))
    await jobs.run_due_jobs(sessions)
    await jobs.run_due_jobs(sessions)
    got = [e for e in received if e.order_no == order_no]
    assert got == [event]  # same id, actor, time, payload after the round trip
    assert got[0].actor == outbox.EventActor("user", 7)
    assert got[0].tags == ["顺丰"]


async def test_failing_handler_is_retried_and_the_event_kept(sessions: Any, demo_shop: Any) -> None:
    from xiaoer import clock

    order_no = uuid.uuid4().hex
    failures[order_no] = 2
    with clock.frozen_at(clock.now()) as frozen:
        async with sessions() as session, session.begin():
            event = await outbox.publish(session, lost(order_no, demo_shop.shop_id))
        for attempt in range(1, 4):
            await jobs.run_due_jobs(sessions)
            frozen.advance(jobs.backoff(attempt))
    assert [e.id for e in received if e.order_no == order_no] == [event.id]
    async with sessions() as session:
        row = await session.scalar(
            select(jobs.Job).where(jobs.Job.dedupe_key.like(f"{event.id}:%"))
        )
        assert row is not None
        assert (row.status, row.attempts) == (jobs.DONE, 3)
        assert "courier API timed out" in row.last_error


async def test_events_caused_by_a_handler_carry_the_cause_and_loops_stop(
    sessions: Any, demo_shop: Any
) -> None:
    run = uuid.uuid4().hex
    async with sessions() as session, session.begin():
        first = await outbox.publish(
            session, Ping(shop_id=demo_shop.shop_id, actor=outbox.SYSTEM, run=run)
        )
    for _ in range(outbox.MAX_DEPTH + 3):
        await jobs.run_due_jobs(sessions)
    chain = [p for p in pings if p.run == run]
    assert [p.depth for p in chain] == list(range(outbox.MAX_DEPTH + 1))
    assert chain[0].id == first.id
    assert all(b.cause == a.id for a, b in itertools.pairwise(chain))
    async with sessions() as session:
        dead = [j for j in await jobs.dead_jobs(session) if j.args.get("event_id") == chain[-1].id]
    assert len(dead) == 1
    assert "EventLoop" in dead[0].last_error


async def test_customer_message_publishes_message_received_and_bot_answered(
    sessions: Any, demo_shop: Any
) -> None:
    async with sessions() as session, session.begin():
        visitor = await customers.get_or_create_visitor(
            session, shop_id=demo_shop.shop_id, token=None
        )
        post = await conversations.post_customer_message(
            session,
            shop_id=demo_shop.shop_id,
            customer_id=visitor.customer_id,
            client_msg_id=uuid.uuid4().hex,
            body="多久发货",
            bot_registry=BotRegistry(sessions),
        )
    async with sessions() as session:
        events = [
            e
            for e in await outbox.recent_events(session, shop_id=demo_shop.shop_id, limit=20)
            if getattr(e, "conversation_id", None) == post.conversation.id
        ]
    by_name = {e.name: e for e in events}
    received_event = by_name["conversations.message_received"]
    answered = by_name["bot.answered"]
    assert received_event.actor == outbox.EventActor("customer", visitor.customer_id)
    assert received_event.message_id == post.message.id  # type: ignore[attr-defined]
    assert answered.actor.type == "bot"
    assert answered.message_id == post.message.id  # type: ignore[attr-defined]


def test_unregistered_event_type_is_refused() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Unnamed(outbox.DomainEvent):
        pass

    event = Unnamed(shop_id=1, actor=outbox.SYSTEM)
    with pytest.raises(ValueError, match="not a registered event type"):
        asyncio.run(outbox.publish(None, event))  # type: ignore[arg-type]
