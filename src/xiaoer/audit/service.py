"""Append-only audit log: every change to tickets, customers, scripts, users and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, the bot, automation or the system; carried into events and audit."""

    type: str
    id: int | None = None
    name: str = ""
    shop_id: int | None = None
    ip: str = ""

    @classmethod
    def system(cls, shop_id: int | None = None) -> Actor:
        return cls(type="system", name="system", shop_id=shop_id)


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    entity_type: str = "",
    entity_id: object = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    shop_id: int | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        shop_id=shop_id if shop_id is not None else actor.shop_id,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        ip=actor.ip,
    )
    session.add(entry)
    return entry


async def list_entries(
    session: AsyncSession,
    *,
    shop_id: int,
    action: str | None = None,
    entity_type: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.shop_id == shop_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    result = await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
    return list(result)


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def known_filters(session: AsyncSession, *, shop_id: int) -> tuple[list[str], list[str]]:
    """The actions and entity types present in a shop's log (the audit page's filter menus)."""
    actions = await session.scalars(
        select(AuditEntry.action).where(AuditEntry.shop_id == shop_id).distinct()
    )
    types = await session.scalars(
        select(AuditEntry.entity_type)
        .where(AuditEntry.shop_id == shop_id, AuditEntry.entity_type != "")
        .distinct()
    )
    return sorted(actions), sorted(types)
