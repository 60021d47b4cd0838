"""Ticket numbers stay unique and gap-free when many transactions create tickets at once."""

from __future__ import annotations

import asyncio

from tests.conftest import run_async
from xiaoer.audit.service import Actor
from xiaoer.db import make_engine, make_sessionmaker, transaction
from xiaoer.tickets import service


def test_concurrent_creations_get_distinct_consecutive_numbers(database_url, demo_shop):
    async def create_many(n: int) -> list[str]:
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)

        async def one(i: int) -> str:
            async with transaction(sessions) as session:
                # Some other write first, as a real request would (audit, message …).
                ticket = await service.create_ticket(
                    session,
                    shop_id=demo_shop.shop_id,
                    actor=Actor.system(demo_shop.shop_id),
                    title=f"并发工单 {i}",
                )
                await asyncio.sleep(0.01)  # hold the transaction open a little
                return ticket.number

        try:
            return await asyncio.gather(*(one(i) for i in range(n)))
        finally:
            await engine.dispose()

    numbers = run_async(create_many(16))
    assert len(set(numbers)) == 16
    prefix = numbers[0][:10]
    assert all(n.startswith(prefix) for n in numbers)
    seqs = sorted(int(n[10:]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 16))
