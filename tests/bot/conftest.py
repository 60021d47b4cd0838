"""Bot test helpers: one registry per test module (a shop's matcher trains once, ~1.5 s)."""

from __future__ import annotations

import pytest

from tests.conftest import run_async
from xiaoer.bot.engine import BotRegistry
from xiaoer.db import make_engine, make_sessionmaker


@pytest.fixture(scope="module")
def registry():
    return BotRegistry(None)


@pytest.fixture
def in_session(database_url):
    """`in_session(work)` runs `work(session)` in a transaction that is rolled back."""

    def run(work):
        async def go():
            engine = make_engine(database_url)
            try:
                async with make_sessionmaker(engine)() as session:
                    trans = await session.begin()
                    try:
                        return await work(session)
                    finally:
                        await trans.rollback()
            finally:
                await engine.dispose()

        return run_async(go())

    return run
