"""A jobs worker in its own process for the crash test: `python -m tests.jobs.worker_process URL
NAME`. Its one job writes a row per run into `jobs_test_effect`, so the test can count runs."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from sqlalchemy import text

from xiaoer import jobs
from xiaoer.db import make_engine, make_sessionmaker


def register(name: str) -> None:
    @jobs.job(name, max_attempts=5)
    async def effect(session: Any, *, key: int) -> None:
        await session.execute(
            text("INSERT INTO jobs_test_effect (job_key, pid) VALUES (:k, :p)"),
            {"k": key, "p": os.getpid()},
        )
        await asyncio.sleep(0.001)  # widen the window in which a kill lands mid-job


async def main(url: str, name: str) -> None:
    register(name)
    engine = make_engine(url)
    try:
        await jobs.Worker(
            make_sessionmaker(engine), poll_interval=0.05, concurrency=2
        ).run_forever()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
