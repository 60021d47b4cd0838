"""Audit log for admins and supervisors: the page `/admin/audit` and JSON `/api/v1/audit`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from xiaoer.audit import service
from xiaoer.audit.models import AuditEntry
from xiaoer.bounds import INT64_MAX, Id
from xiaoer.shops.service import shop_timezone
from xiaoer.web.deps import DB, Supervisor
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
ActionFilter = Annotated[str | None, Query(max_length=50)]
TypeFilter = Annotated[str | None, Query(max_length=50)]
BeforeId = Annotated[int | None, Query(ge=1, le=INT64_MAX)]


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    actor_type: str
    actor_id: Id | None
    actor_name: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    # Pass as `before_id` for the next (older) page; null on the last page.
    next_before_id: Id | None


async def _page(
    session: DB,
    shop_id: Id,
    *,
    action: str | None,
    entity_type: str | None,
    before_id: Id | None,
    limit: int,
) -> tuple[list[AuditEntry], int | None]:
    entries = await service.list_entries(
        session,
        shop_id=shop_id,
        action=action or None,
        entity_type=entity_type or None,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(entries) > limit
    entries = entries[:limit]
    return entries, (entries[-1].id if more and entries else None)


@router.get("/api/v1/audit", tags=["audit"])
async def audit_api(
    session: DB,
    user: Supervisor,
    action: ActionFilter = None,
    entity_type: TypeFilter = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> AuditPage:
    """Newest first; page backwards with `before_id`."""
    entries, next_id = await _page(
        session,
        user.shop_id,
        action=action,
        entity_type=entity_type,
        before_id=before_id,
        limit=limit,
    )
    return AuditPage(
        items=[AuditEntryRead.model_validate(e) for e in entries], next_before_id=next_id
    )


def _is_finding(value: Any) -> bool:
    return isinstance(value, dict) and {"rule", "severity", "message"} <= value.keys()


def _show(value: Any, locale: str = "zh-CN") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(_is_finding(v) for v in value):
        # Compliance findings read as sentences, not as the JSON they are stored as.
        return "；".join(
            f"{translate(locale, 'knowledge.severity.' + str(f['severity']))}：{f['message']}"
            for f in value
        )
    return json.dumps(value, ensure_ascii=False, default=str)


def diff_rows(
    before: dict[str, Any] | None, after: dict[str, Any] | None, locale: str = "zh-CN"
) -> list[dict[str, str]]:
    """Field-by-field change for display: kind is `added`, `removed` or `changed`."""
    before, after = before or {}, after or {}
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        if key in before and key in after:
            kind = "changed"
        elif key in after:
            kind = "added"
            if after[key] in (None, "", [], {}):
                continue  # a new record's empty fields say nothing
        else:
            kind = "removed"
        rows.append(
            {
                "field": str(key),
                "kind": kind,
                "before": _show(before.get(key), locale),
                "after": _show(after.get(key), locale),
            }
        )
    return rows


@router.get("/admin/audit", include_in_schema=False)
async def audit_page(
    request: Request,
    session: DB,
    user: Supervisor,
    action: ActionFilter = None,
    entity_type: TypeFilter = None,
    before_id: BeforeId = None,
) -> Response:
    entries, next_id = await _page(
        session,
        user.shop_id,
        action=action,
        entity_type=entity_type,
        before_id=before_id,
        limit=PAGE_SIZE,
    )
    actions, types = await service.known_filters(session, shop_id=user.shop_id)
    locale = request_locale(request, request.app.state.settings.default_locale)
    return render(
        request,
        "audit/log.html",
        {
            "entries": [(e, diff_rows(e.before, e.after, locale)) for e in entries],
            "actions": actions,
            "entity_types": types,
            "action": action or "",
            "entity_type": entity_type or "",
            "before_id": before_id,
            "next_before_id": next_id,
            "tz": await shop_timezone(session, shop_id=user.shop_id),
        },
    )
