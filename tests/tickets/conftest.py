from __future__ import annotations

import uuid

import pytest

from tests.conftest import run_async
from xiaoer.db import make_engine, make_sessionmaker, transaction


@pytest.fixture
def other_shop(database_url):  # type: ignore[no-untyped-def]
    """A second seeded shop: its data must stay invisible to the first shop's staff."""
    from xiaoer.demo.seed import seed_demo_shop

    suffix = uuid.uuid4().hex[:8]

    async def seed():  # type: ignore[no-untyped-def]
        engine = make_engine(database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await seed_demo_shop(
                    session, slug=f"other-{suffix}", username_prefix=f"o{suffix}-"
                )
        finally:
            await engine.dispose()

    return run_async(seed())
