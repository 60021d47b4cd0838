"""Backups and restores of the whole database (docs/deployment.md#backups).

SQLite: the online backup API copies a consistent snapshot while the server keeps writing
(WAL readers never block), checked with `PRAGMA integrity_check`, then gzipped. PostgreSQL:
`pg_dump --format=custom`, checked with `pg_restore --list`. Each run writes
`last-backup.json` next to the archives (what `/metrics` and the backup-age alert read) and keeps
the newest `backup.keep` archives. `run_backup` is the plain function the scheduled job calls.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from xiaoer.config import Settings

log = structlog.get_logger(__name__)

STATUS_FILE = "last-backup.json"
_SUFFIXES = (".sqlite3.gz", ".pgdump")


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class BackupResult:
    ok: bool
    at: str  # ISO 8601, UTC
    file: str | None
    bytes: int
    seconds: float
    removed: list[str]
    error: str | None = None


def _engine_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _pg_env(url: str) -> dict[str, str]:
    """libpq settings as environment variables: the password never shows on a command line."""
    parsed = make_url(url)
    env = dict(os.environ)
    for key, value in {
        "PGHOST": parsed.host,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }.items():
        if value:
            env[key] = value
    return env


def archives(directory: Path) -> list[Path]:
    """Backup archives in `directory`, newest first (names sort by their UTC timestamp)."""
    if not directory.is_dir():
        return []
    found = [
        p
        for p in directory.iterdir()
        if p.name.startswith("xiaoer-") and p.name.endswith(_SUFFIXES)
    ]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _backup_sqlite(url: str, target: Path) -> None:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        snapshot = Path(work) / "snapshot.db"
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(snapshot)
        try:
            # Pages in steps, so a busy server is never held for the whole copy.
            source.backup(copy, pages=1024, sleep=0.005)
            copy.execute("PRAGMA journal_mode=DELETE")
            check = copy.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"the snapshot failed its integrity check: {check}")
        finally:
            copy.close()
            source.close()
        partial = target.with_name(target.name + ".partial")
        with snapshot.open("rb") as raw, gzip.open(partial, "wb", compresslevel=6) as packed:
            shutil.copyfileobj(raw, packed, length=1 << 20)
        partial.replace(target)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client of the server's version"
        )
    return path


def _backup_postgres(url: str, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    env = _pg_env(url)
    done = subprocess.run(  # noqa: S603 - fixed program, arguments are ours
        [
            _tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--file",
            str(partial),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
    listed = subprocess.run(  # noqa: S603
        [_tool("pg_restore"), "--list", str(partial)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the dump does not read back: {listed.stderr.strip()[:500]}")
    partial.replace(target)


def _prune(directory: Path, keep: int) -> list[str]:
    removed = []
    for old in archives(directory)[keep:]:
        old.unlink(missing_ok=True)
        removed.append(old.name)
    return removed


def _write_status(directory: Path, result: BackupResult) -> None:
    status = directory / STATUS_FILE
    previous = read_status(directory) or {}
    data = asdict(result)
    # The age alert needs the last *successful* run even after a failed one.
    data["last_success_at"] = result.at if result.ok else previous.get("last_success_at")
    partial = status.with_suffix(".partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    partial.replace(status)


def read_status(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_backup(settings: Settings, *, now: dt.datetime | None = None) -> BackupResult:
    """Back up the configured database into `settings.backup_dir`, keep the newest
    `settings.backup.keep` archives, record the outcome. Never raises for a failed backup: the
    result (and `last-backup.json`) says what went wrong, so a job can retry and alerts fire."""
    now = now or dt.datetime.now(dt.UTC)
    directory = settings.backup_dir
    directory.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    kind = _engine_kind(url)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    target = directory / f"xiaoer-{stamp}{'.sqlite3.gz' if kind == 'sqlite' else '.pgdump'}"
    started = dt.datetime.now(dt.UTC)
    try:
        if kind == "sqlite":
            _backup_sqlite(url, target)
        else:
            _backup_postgres(url, target)
    except (BackupError, OSError, sqlite3.Error) as exc:
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        result = BackupResult(False, now.isoformat(), None, 0, seconds, [], str(exc)[:500])
        log.error("backup_failed", error=result.error)
    else:
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        removed = _prune(directory, settings.backup.keep)
        result = BackupResult(
            True, now.isoformat(), target.name, target.stat().st_size, seconds, removed
        )
        log.info("backup_done", file=target.name, bytes=result.bytes, seconds=round(seconds, 2))
    _write_status(directory, result)
    return result


def _database_is_empty_postgres(url: str) -> bool:
    import psycopg

    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as conn:
        count = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
    return not count or count[0] == 0


def restore_backup(settings: Settings, archive: Path, *, force: bool = False) -> None:
    """Restore `archive` into the configured database. The server must be stopped. Refuses to
    overwrite a database that has data unless `force` (then it is replaced)."""
    url = settings.effective_database_url
    kind = _engine_kind(url)
    if not archive.is_file():
        raise BackupError(f"no backup at {archive}")
    if kind == "sqlite":
        if not archive.name.endswith(".sqlite3.gz"):
            raise BackupError("a SQLite database restores from a .sqlite3.gz backup")
        target = _sqlite_path(url)
        if target.exists() and target.stat().st_size > 0 and not force:
            raise BackupError(f"{target} exists; stop the server and pass --force to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".restoring")
        with gzip.open(archive, "rb") as packed, partial.open("wb") as raw:
            shutil.copyfileobj(packed, raw, length=1 << 20)
        check = sqlite3.connect(partial)
        try:
            result = check.execute("PRAGMA integrity_check").fetchone()
        finally:
            check.close()
        if not result or result[0] != "ok":
            partial.unlink(missing_ok=True)
            raise BackupError(f"the backup failed its integrity check: {result}")
        for stale in (
            target.with_name(target.name + "-wal"),
            target.with_name(target.name + "-shm"),
        ):
            stale.unlink(missing_ok=True)
        partial.replace(target)
        return
    if not archive.name.endswith(".pgdump"):
        raise BackupError("a PostgreSQL database restores from a .pgdump backup")
    empty = _database_is_empty_postgres(url)
    if not empty and not force:
        raise BackupError("the database has tables; stop the servers and pass --force to replace")
    args = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]
    if not empty:
        args += ["--clean", "--if-exists"]
    env = _pg_env(url)
    done = subprocess.run(  # noqa: S603 - fixed program, arguments are ours
        [*args, "--dbname", env["PGDATABASE"], str(archive)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:500]}")
