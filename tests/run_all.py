"""`make test`: the whole suite on a fresh SQLite file, then on a fresh PostgreSQL database.

PostgreSQL comes from XIAOER_TEST_POSTGRES_URL (default: the local server). When none is reachable
the PostgreSQL leg is skipped and the summary says so loudly; with CI=true it is a failure instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|error|errors|xfailed|xpassed)")


def postgres_reachable(url: str) -> str | None:
    try:
        with psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3
        ):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def run_leg(db: str, extra: list[str]) -> tuple[int, dict[str, int]]:
    """The leg's tests in parallel, then those marked `alone` (they hold a time bound under
    load, e.g. 1,000 reconnecting clients ready within 30 s) in one process with the machine
    to themselves."""
    code, counts = run_pytest(db, [*extra, "-m", "not alone"], f"test suite on {db}")
    alone_code, alone_counts = run_pytest(
        db, ["-m", "alone"], f"tests that need the machine alone, {db}"
    )
    if alone_code != NO_TESTS_COLLECTED:
        code = code or alone_code
    for key, n in alone_counts.items():
        counts[key] = counts.get(key, 0) + n
    return code, counts


NO_TESTS_COLLECTED = 5


def run_pytest(db: str, extra: list[str], title: str) -> tuple[int, dict[str, int]]:
    print(f"\n===== {title} =====", flush=True)
    cmd = [sys.executable, "-m", "pytest", f"--db={db}", "-p", "no:cacheprovider", *extra]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.strip():
            last = line
    code = proc.wait()
    counts: dict[str, int] = {}
    for n, word in SUMMARY.findall(last):
        key = "errors" if word.startswith("error") else word
        counts[key] = counts.get(key, 0) + int(n)
    return code, counts


def main() -> int:
    extra = sys.argv[1:]
    pg_url = os.environ.get("XIAOER_TEST_POSTGRES_URL", DEFAULT_PG)
    os.environ["XIAOER_TEST_POSTGRES_URL"] = pg_url
    results = {"sqlite": run_leg("sqlite", extra)}
    problem = postgres_reachable(pg_url)
    if problem is None:
        results["postgresql"] = run_leg("postgresql", extra)
    totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    print("\n===== summary =====")
    failed = False
    for db, (code, counts) in results.items():
        print(f"{db:<11} exit {code}  {counts}")
        failed |= code != 0
        for key in totals:
            totals[key] += counts.get(key, 0)
    if problem is not None:
        banner = "!" * 78
        print(f"{banner}\n!! PostgreSQL leg NOT RUN: {pg_url} unreachable ({problem})\n{banner}")
        if os.environ.get("CI") == "true":
            failed = True
    print(
        f"total: {totals['passed']} passed, {totals['failed'] + totals['errors']} failed, "
        f"{totals['skipped']} skipped"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
