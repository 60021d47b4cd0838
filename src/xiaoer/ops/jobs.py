"""The scheduled backup: one run per day across the cluster (the job table's unique slot)."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.config import get_settings
from xiaoer.db import SETTINGS_KEY
from xiaoer.jobs import periodic
from xiaoer.ops.backup import run_backup


@periodic("ops.backup", every=dt.timedelta(hours=24))
async def backup(session: AsyncSession) -> None:
    """Backs up the database of this process's settings; a failure raises so the job is retried
    with back-off (and `xiaoer_backup_last_run_ok` drops to 0 for the alert)."""
    settings = session.info.get(SETTINGS_KEY) or get_settings()
    if not settings.backup.scheduled:
        return
    # pg_dump and the SQLite page copy block: off the event loop that serves chats.
    result = await asyncio.to_thread(run_backup, settings)
    if not result.ok:
        raise RuntimeError(f"backup failed: {result.error}")
