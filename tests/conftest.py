"""Test fixtures. Every run gets a brand-new database (a temporary SQLite file, or a fresh
PostgreSQL database with `--db=postgresql`), migrated once with Alembic. Tests never depend on
each other: each one seeds its own shop (unique slug and usernames) through the real seed code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

import xiaoer.nlp.matching  # noqa: F401 - see below
from xiaoer.app import create_app
from xiaoer.auth.passwords import configure_password_hashing
from xiaoer.config import Settings
from xiaoer.db import make_engine, make_sessionmaker, transaction
from xiaoer.migrate import sync_url, upgrade

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Seeding hashes ~1,200 staff passwords a run: full-cost argon2 made that minutes of the suite.
# Server processes started by tests get it too (tests/servers.py).
TEST_HASHING = "cheapest-for-tests"
# The app imports scikit-learn lazily, when a bot first trains (tests/test_cli.py checks that).
# Tests import it once up front instead: inside a chat test the import would count against the
# seconds a test waits for the bot's frame.
configure_password_hashing(Settings(env="test", password_hashing=TEST_HASHING))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default="sqlite", choices=["sqlite", "postgresql"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the production pair (PostgreSQL + Redis) run in the PostgreSQL leg only, and
    tests of a SQLite-only mechanism in the SQLite leg only."""
    skip_marker = "sqlite_only" if config.getoption("--db") == "postgresql" else "postgresql_only"
    keep = [i for i in items if i.get_closest_marker(skip_marker) is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def postgres_admin_url() -> str:
    return os.environ.get("XIAOER_TEST_POSTGRES_URL", DEFAULT_PG)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def database_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if db_kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "xiaoer-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    admin = postgres_admin_url()
    name = f"xiaoer_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sync_engine(database_url: str) -> Iterator[Engine]:
    """For assertions straight on the tables, outside the app."""
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        log_json=False,
        password_hashing=TEST_HASHING,
    )


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def run_async(coro):  # type: ignore[no-untyped-def]
    """Run a coroutine against the test database from a synchronous test. Under the session's
    sync Playwright (an event loop running in this thread) it runs on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def in_database(database_url: str, work, *, commit: bool = True):  # type: ignore[no-untyped-def]
    """Run `work(session)` in one transaction on the test database from a synchronous test:
    committed (rolled back if it raises), or always rolled back with `commit=False`."""

    async def run():  # type: ignore[no-untyped-def]
        engine = make_engine(database_url)
        try:
            if commit:
                async with transaction(make_sessionmaker(engine)) as session:
                    return await work(session)
            async with make_sessionmaker(engine)() as session:
                trans = await session.begin()
                try:
                    return await work(session)
                finally:
                    await trans.rollback()
        finally:
            await engine.dispose()

    return run_async(run())


def seed_shop(database_url: str, kind: str, *, history: bool = False):  # type: ignore[no-untyped-def]
    """Seed a demo shop with a unique slug and usernames into the test database; without the
    two weeks of history unless asked (it trains the bot: seconds per shop)."""
    from xiaoer.demo.seed import seed_demo_shop

    suffix = uuid.uuid4().hex[:8]
    return in_database(
        database_url,
        lambda session: seed_demo_shop(
            session,
            slug=f"{kind}-{suffix}",
            username_prefix=f"{kind[0]}{suffix}-",
            history=history,
        ),
    )


@pytest.fixture
def in_session(database_url: str):  # type: ignore[no-untyped-def]
    """`in_session(work)` runs `work(session)` in a transaction that is rolled back."""
    return lambda work: in_database(database_url, work, commit=False)


@pytest.fixture
def demo_shop(database_url: str):  # type: ignore[no-untyped-def]
    """A freshly seeded demo shop of this test's own (see xiaoer.demo.seed)."""
    return seed_shop(database_url, "shop")


@pytest.fixture
def other_shop(database_url: str):  # type: ignore[no-untyped-def]
    """A second seeded shop: its data must stay invisible to the first shop's staff."""
    return seed_shop(database_url, "other")
