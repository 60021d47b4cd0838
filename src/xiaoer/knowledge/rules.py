"""A shop's compliance rule set: the shipped defaults with the shop's own adjustments.

Adjustments live in `Shop.settings["lint"]`:
`{"rules": {"<rule id>": {"severity": "block"|"warn"|"off", "phrases": [extra phrases…],
                           "allowed": [allowed phrases…]}},
  "limits_cents": {"agent": 5000, "supervisor": 20000}}`.
Extra phrases extend a phrase rule; allowed phrases are the shop's own policy wording that a rule
must not flag (假一赔十 for a shop that really pays ten times for a fake); limits replace the
compensation limits per role. Settings stored before `allowed` existed load unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.errors import InvalidInput
from xiaoer.knowledge.compliance import DEFAULT_RULES, ROLES, Rule
from xiaoer.shops import service as shops

SEVERITIES: tuple[str, ...] = ("block", "warn", "off")
RULE_IDS: tuple[str, ...] = tuple(r.id for r in DEFAULT_RULES)
MAX_EXTRA_PHRASES = 200
MAX_LIMIT_CENTS = 100_000_000
# Rule kinds whose phrase list a shop may extend.
PHRASE_KINDS: tuple[str, ...] = ("phrases", "required")
# Rule kinds that flag a span, so a shop may allow some wording (a missing part has no span).
ALLOW_KINDS: tuple[str, ...] = ("phrases", "regex", "compensation", "address")


def clean_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validated lint settings (raises InvalidInput naming the bad part)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("lint settings are an object with rules and limits_cents")
    raw_rules = raw.get("rules") or {}
    raw_limits = raw.get("limits_cents") or {}
    if not isinstance(raw_rules, Mapping) or not isinstance(raw_limits, Mapping):
        raise InvalidInput("rules and limits_cents are objects keyed by rule id and role")
    rules: dict[str, dict[str, Any]] = {}
    by_id = {r.id: r for r in DEFAULT_RULES}
    for rule_id, change in raw_rules.items():
        if rule_id not in RULE_IDS:
            raise InvalidInput(f"unknown lint rule {rule_id!r}", code="unknown_rule")
        if not isinstance(change, Mapping):
            raise InvalidInput(f"the change of rule {rule_id} is an object")
        severity = change.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}")
        phrases = _phrase_list(change.get("phrases"), "extra phrases")
        if phrases and by_id[rule_id].kind not in PHRASE_KINDS:
            raise InvalidInput(f"rule {rule_id} does not take extra phrases")
        allowed = _phrase_list(change.get("allowed"), "allowed phrases")
        if allowed and by_id[rule_id].kind not in ALLOW_KINDS:
            raise InvalidInput(f"rule {rule_id} does not take allowed phrases")
        entry: dict[str, Any] = {}
        if severity is not None:
            entry["severity"] = severity
        if phrases:
            entry["phrases"] = phrases
        if allowed:
            entry["allowed"] = allowed
        if entry:
            rules[rule_id] = entry
    limits: dict[str, int] = {}
    for role, cents in raw_limits.items():
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}")
        if cents is None or cents == "":
            continue
        try:
            if isinstance(cents, bool) or (isinstance(cents, float) and not cents.is_integer()):
                raise ValueError
            value = int(cents)
        except (TypeError, ValueError):
            raise InvalidInput("a compensation limit is a whole number of cents") from None
        if value < 0 or value > MAX_LIMIT_CENTS:
            raise InvalidInput("a compensation limit is between 0 and 1,000,000 yuan")
        limits[role] = value
    out: dict[str, Any] = {}
    if rules:
        out["rules"] = rules
    if limits:
        out["limits_cents"] = limits
    return out


def _phrase_list(raw: Any, what: str) -> list[str]:
    raw = raw or []
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list):
        raise InvalidInput(f"{what} are a list of strings")
    phrases = [str(p).strip()[:50] for p in raw if str(p).strip()]
    if len(phrases) > MAX_EXTRA_PHRASES:
        raise InvalidInput(f"at most {MAX_EXTRA_PHRASES} {what} per rule")
    return list(dict.fromkeys(phrases))


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
        if change.get("phrases") and rule.kind in PHRASE_KINDS:
            updates["phrases"] = tuple(rule.phrases) + tuple(change["phrases"])
        if change.get("allowed") and rule.kind in ALLOW_KINDS:
            updates["allowed"] = tuple(rule.allowed) + tuple(change["allowed"])
        if limits and rule.kind == "compensation":
            updates["limits_cents"] = {**rule.limits_cents, **limits}
        out.append(dataclasses.replace(rule, **updates) if updates else rule)
    return tuple(out)


async def shop_rules(session: AsyncSession, *, shop_id: int) -> tuple[Rule, ...]:
    return build_rules(await shops.settings_section(session, shop_id=shop_id, section="lint"))


async def lint_settings(session: AsyncSession, *, shop_id: int) -> dict[str, Any]:
    """The shop's stored adjustments (empty when it has none)."""
    return dict(await shops.settings_section(session, shop_id=shop_id, section="lint") or {})


def describe(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rule set for the configuration page and API: each default rule with the shop's
    severity and extra phrases, and the compensation limits per role."""
    settings = settings or {}
    changes = settings.get("rules") or {}
    limits = settings.get("limits_cents") or {}
    out = []
    for rule in DEFAULT_RULES:
        change = changes.get(rule.id) or {}
        out.append(
            {
                "id": rule.id,
                "kind": rule.kind,
                "default_severity": rule.severity,
                "severity": change.get("severity") or rule.severity,
                "message": rule.message,
                "suggestion": rule.suggestion,
                "categories": sorted(rule.categories) if rule.categories is not None else None,
                "angry_only": rule.angry_only,
                "phrases": list(rule.phrases),
                "extra_phrases": list(change.get("phrases") or []),
                "accepts_phrases": rule.kind in PHRASE_KINDS,
                "allowed_phrases": list(change.get("allowed") or []),
                "accepts_allowed": rule.kind in ALLOW_KINDS,
            }
        )
    defaults = next((dict(r.limits_cents) for r in DEFAULT_RULES if r.kind == "compensation"), {})
    return {
        "rules": out,
        "limits_cents": {role: limits.get(role, defaults.get(role)) for role in ROLES},
        "default_limits_cents": {role: defaults.get(role) for role in ROLES},
    }


async def update_settings(
    session: AsyncSession, *, shop_id: int, actor: Actor, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """Replaces the shop's lint settings with the validated `raw`; audited when it changes."""
    cleaned = clean_settings(raw)
    if await shops.get_shop(session, shop_id=shop_id) is None:
        raise InvalidInput("unknown shop")
    before = await lint_settings(session, shop_id=shop_id)
    if cleaned != before:
        await shops.set_settings_section(session, shop_id=shop_id, section="lint", value=cleaned)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="lint_rules.updated",
            entity_type="shop",
            entity_id=shop_id,
            before={"lint": before},
            after={"lint": cleaned},
            shop_id=shop_id,
        )
    return cleaned
