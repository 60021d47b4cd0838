"""Backups as an operator runs them: `xiaoer backup` on a live database, `xiaoer restore` into a
fresh data directory (or an empty PostgreSQL database), and a drill that compares every table."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text

from tests.conftest import postgres_admin_url, seed_shop
from tests.servers import fresh_postgres
from tests.test_cli import xiaoer
from xiaoer.config import Settings
from xiaoer.migrate import sync_url, upgrade
from xiaoer.ops.backup import archives, read_status, run_backup


@contextlib.contextmanager
def empty_postgres() -> Iterator[str]:
    """A database with no tables at all: what a restore on a new server starts from."""
    admin = postgres_admin_url()
    libpq = admin.replace("postgresql+psycopg://", "postgresql://")
    name = f"xiaoer_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(data_dir: Path, url: str | None) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")}
    env["XIAOER_DATA_DIR"] = str(data_dir)
    if url is not None:
        env["XIAOER_DATABASE_URL"] = url
    return env


def snapshot(url: str) -> dict[str, tuple[int, list[tuple[Any, ...]]]]:
    """Every table's row count and a sample of its rows (first, last and a random few by key)."""
    engine = create_engine(sync_url(url))
    try:
        tables: dict[str, tuple[int, list[tuple[Any, ...]]]] = {}
        inspector = inspect(engine)
        with engine.connect() as conn:
            for table in inspector.get_table_names():
                keys = inspector.get_pk_constraint(table)["constrained_columns"]
                order = ", ".join(f'"{k}"' for k in keys) or "1"
                rows = [
                    tuple(r)
                    for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))
                ]
                picks = sorted(
                    {
                        0,
                        len(rows) - 1,
                        *random.Random(table).sample(range(len(rows)), min(5, len(rows))),
                    }
                )
                tables[table] = (len(rows), [rows[i] for i in picks if 0 <= i < len(rows)])
        return tables
    finally:
        engine.dispose()


@pytest.fixture
def live_database(db_kind: str, tmp_path: Path) -> Iterator[tuple[Path, str | None, str]]:
    """(data dir, XIAOER_DATABASE_URL or None for the embedded SQLite file, SQLAlchemy URL)."""
    data = tmp_path / "live"
    data.mkdir()
    if db_kind == "sqlite":
        url = f"sqlite+aiosqlite:///{data / 'xiaoer.db'}"
        upgrade(url)
        yield data, None, url
        return
    with fresh_postgres(postgres_admin_url()) as url:
        yield data, url, url


@pytest.mark.slow
def test_restore_drill_brings_back_every_table_and_sampled_rows(
    live_database: tuple[Path, str | None, str], db_kind: str, tmp_path: Path
) -> None:
    data, configured, url = live_database
    seed_shop(url, "bk", history=True)  # two weeks of chats: every domain has rows
    before = snapshot(url)
    assert sum(count for count, _ in before.values()) > 1000
    assert before["message"][0] > 0
    assert before["conversation"][0] > 0

    made = xiaoer(_env(data, configured), "backup")
    assert made.returncode == 0, made.stderr
    [archive] = archives(data / "backups")
    status = read_status(data / "backups")
    assert status is not None
    assert status["ok"] is True
    assert status["file"] == archive.name

    fresh = tmp_path / "fresh"
    with contextlib.ExitStack() as stack:
        target_url = None if db_kind == "sqlite" else stack.enter_context(empty_postgres())
        restored = xiaoer(_env(fresh, target_url), "restore", str(archive))
        assert restored.returncode == 0, restored.stderr
        target = target_url or f"sqlite+aiosqlite:///{fresh / 'xiaoer.db'}"
        after = snapshot(target)
        assert sorted(after) == sorted(before)
        for table, (count, sample) in before.items():
            assert after[table][0] == count, f"{table}: {after[table][0]} rows, expected {count}"
            assert after[table][1] == sample, f"{table}: sampled rows differ"

        # A second restore would overwrite live data: refused without --force.
        again = xiaoer(_env(fresh, target_url), "restore", str(archive))
        assert again.returncode == 1
        assert "--force" in again.stderr
        assert snapshot(target)["message"][0] == before["message"][0]


def test_backups_keep_the_newest_and_a_failure_keeps_the_last_success(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'xiaoer.db'}"
    upgrade(url)
    settings = Settings(env="test", data_dir=data, log_json=False, backup={"keep": 2})
    start = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    results = [run_backup(settings, now=start + dt.timedelta(days=d)) for d in range(3)]
    assert all(r.ok for r in results)
    assert [p.name for p in archives(settings.backup_dir)] == [results[2].file, results[1].file]
    assert results[2].removed == [results[0].file]

    broken = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/gone.db"})
    failed = run_backup(broken, now=start + dt.timedelta(days=3))
    assert failed.ok is False
    assert "no database" in (failed.error or "")
    status = json.loads((settings.backup_dir / "last-backup.json").read_text())
    assert status["ok"] is False
    assert status["last_success_at"] == results[2].at
    assert len(archives(settings.backup_dir)) == 2
