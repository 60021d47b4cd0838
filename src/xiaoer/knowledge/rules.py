"""A shop's compliance rule set: the shipped defaults with the shop's own adjustments.

Adjustments live in `Shop.settings["lint"]`:
`{"rules": {"<rule id>": {"severity": "block"|"warn"|"off", "phrases": [extra phrases…]}},
  "limits_cents": {"agent": 5000, "supervisor": 20000}}`.
Extra phrases extend a phrase rule; limits replace the compensation limits per role.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.errors import InvalidInput
from xiaoer.knowledge.compliance import DEFAULT_RULES, ROLES, Rule
from xiaoer.shops.models import Shop

SEVERITIES: tuple[str, ...] = ("block", "warn", "off")
RULE_IDS: tuple[str, ...] = tuple(r.id for r in DEFAULT_RULES)
MAX_EXTRA_PHRASES = 200


def clean_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validated lint settings (raises InvalidInput naming the bad part)."""
    rules: dict[str, dict[str, Any]] = {}
    for rule_id, change in dict(raw.get("rules") or {}).items():
        if rule_id not in RULE_IDS:
            raise InvalidInput(f"unknown lint rule {rule_id!r}", code="unknown_rule")
        severity = change.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}")
        phrases = [str(p).strip()[:50] for p in change.get("phrases") or [] if str(p).strip()]
        if len(phrases) > MAX_EXTRA_PHRASES:
            raise InvalidInput(f"at most {MAX_EXTRA_PHRASES} extra phrases per rule")
        entry: dict[str, Any] = {}
        if severity is not None:
            entry["severity"] = severity
        if phrases:
            entry["phrases"] = list(dict.fromkeys(phrases))
        if entry:
            rules[rule_id] = entry
    limits: dict[str, int] = {}
    for role, cents in dict(raw.get("limits_cents") or {}).items():
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}")
        try:
            value = int(cents)
        except (TypeError, ValueError):
            raise InvalidInput("a compensation limit is a whole number of cents") from None
        if value < 0:
            raise InvalidInput("a compensation limit cannot be negative")
        limits[role] = value
    out: dict[str, Any] = {}
    if rules:
        out["rules"] = rules
    if limits:
        out["limits_cents"] = limits
    return out


def build_rules(settings: Mapping[str, Any] | None) -> tuple[Rule, ...]:
    """The default rules with `settings` applied (rules switched off are left out)."""
    settings = settings or {}
    changes = settings.get("rules") or {}
    limits = settings.get("limits_cents") or {}
    out = []
    for rule in DEFAULT_RULES:
        change = changes.get(rule.id) or {}
        if change.get("severity") == "off":
            continue
        updates: dict[str, Any] = {}
        if change.get("severity") in ("block", "warn"):
            updates["severity"] = change["severity"]
        if change.get("phrases") and rule.kind in ("phrases", "required"):
            updates["phrases"] = tuple(rule.phrases) + tuple(change["phrases"])
        if limits and rule.kind == "compensation":
            updates["limits_cents"] = {**rule.limits_cents, **limits}
        out.append(dataclasses.replace(rule, **updates) if updates else rule)
    return tuple(out)


async def shop_rules(session: AsyncSession, *, shop_id: int) -> tuple[Rule, ...]:
    shop = await session.get(Shop, shop_id)
    return build_rules((shop.settings or {}).get("lint") if shop is not None else None)
