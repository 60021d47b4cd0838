"""Compliance lint for answers (话术合规检查): pure functions, no database, no web.

`lint(text, category=…, angry=…, role=…)` checks a script answer or an agent's draft reply against
a rule set and returns every finding with its character span in the *original* text, so the
editor can underline it. A finding whose rule says something is **missing** (a complaint answer
without a remedy, an after-sale answer without a concrete time) has no place in the text: its
span is `start = end = 0`.

Rule kinds:
- `phrases`: any of the listed phrases (longest wins where they overlap);
- `regex`: any match of the listed regular expressions;
- `compensation`: a promised amount (赔您200元, 补偿50元, ¥30 红包 …) above the role's limit
  (`limits_cents`; a role without a limit may promise any amount);
- `id_card`: an 18-digit mainland ID card number with a valid birth date and check digit;
- `bank_card`: a 16–19 digit card number (optionally grouped by spaces or dashes) starting with
  3–6 and passing the Luhn check; numbers that are ID cards are reported only as ID cards;
- `required`: none of the phrases/regexes occurs → one finding at span (0, 0).

A rule applies only to its `categories` (None = every category, including "no category"), only
when the customer is angry if `angry_only`, and only to its `roles` (None = every role).
`blocked` is true when any finding has severity `block`. Every pattern is compiled once, when
the rule is built; a 500-character reply lints in well under a millisecond (see bench/assist.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["block", "warn"]
RuleKind = Literal["phrases", "regex", "compensation", "id_card", "bank_card", "required"]

CATEGORIES: tuple[str, ...] = ("consultation", "after_sale", "complaint")
ROLES: tuple[str, ...] = ("agent", "supervisor")
_ROLE_NAMES = {"agent": "坐席", "supervisor": "主管"}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    start: int
    end: int
    message: str
    suggestion: str

    def public(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "start": self.start,
            "end": self.end,
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class LintResult:
    blocked: bool
    findings: list[Finding]

    def public(self) -> dict[str, object]:
        return {"blocked": self.blocked, "findings": [f.public() for f in self.findings]}


@dataclass(frozen=True, eq=False)
class Rule:
    """One compliance rule; `phrases` are literal, `patterns` are regular expressions."""

    id: str
    kind: RuleKind
    severity: Severity
    message: str
    suggestion: str
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    categories: frozenset[str] | None = None
    angry_only: bool = False
    roles: frozenset[str] | None = None
    limits_cents: Mapping[str, int] = field(default_factory=dict)
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parts = [re.escape(p) for p in sorted(set(self.phrases), key=len, reverse=True)]
        parts += [f"(?:{p})" for p in self.patterns]
        if self.kind == "compensation" and not parts:
            parts = [_COMPENSATION]
        if parts:
            object.__setattr__(self, "_compiled", re.compile("|".join(parts)))

    def applies(self, *, category: str | None, angry: bool, role: str) -> bool:
        if self.categories is not None and category not in self.categories:
            return False
        if self.angry_only and not angry:
            return False
        return self.roles is None or role in self.roles


# ---------------------------------------------------------------------------------------------
# Checksums and amounts

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_BANK_CARD = re.compile(r"(?<![\d-])[3-6]\d{3}(?:[ -]?\d){12,15}(?![\d-])")


def valid_id_card(number: str) -> bool:
    """A mainland resident ID number (18 characters): plausible birth date and ISO 7064 check."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_CN_DIGITS = {ch: i for i, ch in enumerate("一二三四五六七八九", 1)} | {"两": 2}
_AMOUNT = r"(?:\d+(?:\.\d{1,2})?|[一二两三四五六七八九十百千]+)"
_VERB = r"(?:赔偿|赔付|补偿|补贴|返现|返还|赠送|赔|补|返|送)"
# "赔您200元", "补偿50元", "补偿您¥30", "送您30元优惠券", "给您30元补偿", "¥30 红包".
_COMPENSATION = (
    rf"{_VERB}(?:给)?(?:您|你)?(?:一个|一张)?\s*(?:[¥￥]\s*(?P<a1>{_AMOUNT})|(?P<a2>{_AMOUNT})\s*(?:元|块))"
    rf"|(?:[¥￥]\s*(?P<a3>{_AMOUNT})|(?P<a4>{_AMOUNT})\s*(?:元|块))(?:的)?\s*"
    r"(?:补偿|赔偿|红包|优惠券|无门槛券|代金券|返现|补贴|赔付)"
)


def _chinese_number(text: str) -> int | None:
    """Small Chinese numerals (三十, 两百, 五十五, 一千) as an integer."""
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in "十百千":
            unit = {"十": 10, "百": 100, "千": 1000}[ch]
            total += (current or 1) * unit
            current = 0
        else:
            return None
    return total + current


def amount_cents(text: str) -> int | None:
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d{1,2})?", text):
        whole, _, frac = text.partition(".")
        return int(whole) * 100 + int((frac + "00")[:2])
    value = _chinese_number(text)
    return None if value is None else value * 100


# ---------------------------------------------------------------------------------------------
# Default rules (the shop's standard; shops may pass their own rule set)

_AFTER_SALE = frozenset({"after_sale"})
_COMPLAINT = frozenset({"complaint"})

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        id="absolute_promise",
        kind="phrases",
        severity="block",
        phrases=(
            "保证质量",
            "绝对",
            "百分之百",
            "百分百",
            "一定不会",
            "肯定不会",
            "永远不会",
            "万无一失",
            "包您满意",
        ),
        message="绝对化承诺：无法兑现的保证会引发投诉和赔付纠纷",
        suggestion="改为可兑现的说法，例如“我们会严格按质检标准发货，如有问题可申请售后”",
    ),
    Rule(
        id="misleading_claim",
        kind="phrases",
        severity="block",
        phrases=(
            "全网最低价",
            "全网最低",
            "最低价",
            "最便宜",
            "国家级",
            "史上最低",
            "第一品牌",
            "销量第一",
            "独一无二",
        ),
        message="误导性宣传：违反广告法的极限用语或无法证明的比较",
        suggestion="删除极限用语，只陈述可证明的事实，例如“活动期间到手价 XX 元”",
    ),
    Rule(
        id="vague_commitment",
        kind="phrases",
        severity="warn",
        categories=_AFTER_SALE,
        phrases=("可能", "大概", "应该", "也许", "估计", "差不多", "尽快", "或许"),
        message="模糊承诺：售后答复需要明确的处理方式和时间",
        suggestion="给出确定的时间和动作，例如“我们会在 48 小时内为您处理”",
    ),
    Rule(
        id="unauthorised_compensation",
        kind="compensation",
        severity="block",
        limits_cents={"agent": 5_000, "supervisor": 20_000},
        message="补偿金额超出您的权限",
        suggestion="超出权限的补偿需主管审批，可先说明“我为您申请补偿，稍后给您答复”",
    ),
    Rule(
        id="personal_data_id_card",
        kind="id_card",
        severity="block",
        message="包含身份证号码：个人信息不得明文发送",
        suggestion="删除号码或只保留后四位，例如“尾号 1234 的身份证”",
    ),
    Rule(
        id="personal_data_bank_card",
        kind="bank_card",
        severity="block",
        message="包含银行卡号：个人信息不得明文发送",
        suggestion="删除卡号或只保留后四位，例如“尾号 5678 的银行卡”",
    ),
    Rule(
        id="angry_banned_phrase",
        kind="phrases",
        severity="block",
        angry_only=True,
        phrases=(
            "请您理解",
            "请理解",
            "这是规定",
            "这是公司规定",
            "我也没办法",
            "没办法",
            "不归我管",
            "您自己看",
            "不是我们的问题",
            "您别激动",
            "你听我说",
        ),
        message="客户情绪激动时禁用：这类说法会激化矛盾",
        suggestion="先共情并给出行动，例如“非常抱歉给您带来不便，我马上为您处理”",
    ),
    Rule(
        id="complaint_missing_remedy",
        kind="required",
        severity="block",
        categories=_COMPLAINT,
        phrases=(
            "补偿",
            "赔偿",
            "赔付",
            "退款",
            "退货",
            "换货",
            "补发",
            "重新发",
            "重发",
            "优惠券",
            "红包",
            "返现",
            "退还",
            "免费",
            "维修",
            "补寄",
            "上门取件",
        ),
        message="投诉答复缺少补偿或解决方案",
        suggestion="写明给客户的补救，例如“为您全额退款并补偿 10 元无门槛券”",
    ),
    Rule(
        id="complaint_missing_next_step",
        kind="required",
        severity="block",
        categories=_COMPLAINT,
        phrases=(
            "接下来",
            "稍后",
            "随后",
            "我们会",
            "我会",
            "将会",
            "马上",
            "立即",
            "立刻",
            "跟进",
            "联系您",
            "回复您",
            "通知您",
            "进度",
            "下一步",
        ),
        message="投诉答复缺少下一步处理流程",
        suggestion="告诉客户接下来会发生什么，例如“我会在今天 18 点前电话联系您确认进度”",
    ),
    Rule(
        id="after_sale_missing_time",
        kind="required",
        severity="warn",
        categories=_AFTER_SALE,
        patterns=(
            r"(?:\d+|[一二两三四五六七八九十半]+)\s*个?\s*(?:小时|工作日|个工作日|天|日|分钟|周|星期)",
            r"今天|今日|明天|明日|当天|当日|\d{1,2}\s*[点:：]",
        ),
        message="售后答复缺少具体时间承诺",
        suggestion="加上明确时限，例如“48小时内”“1个工作日内”",
    ),
)


# ---------------------------------------------------------------------------------------------
# The lint


def _check(rule: Rule, text: str, role: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, extra message) of every hit of one rule."""
    if rule.kind in ("phrases", "regex"):
        assert rule._compiled is not None
        for m in rule._compiled.finditer(text):
            yield m.start(), m.end(), ""
    elif rule.kind == "compensation":
        assert rule._compiled is not None
        limit = rule.limits_cents.get(role)
        if limit is None:
            return
        for m in rule._compiled.finditer(text):
            raw = next((g for g in m.groups() if g), None)
            cents = amount_cents(raw) if raw else None
            if cents is not None and cents > limit:
                yield (
                    m.start(),
                    m.end(),
                    f"（{cents / 100:g} 元，{_ROLE_NAMES.get(role, role)}上限 {limit / 100:g} 元）",
                )
    elif rule.kind == "id_card":
        for m in _ID_CARD.finditer(text):
            if valid_id_card(m.group()):
                yield m.start(), m.end(), ""
    elif rule.kind == "bank_card":
        for m in _BANK_CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group())
            if 16 <= len(digits) <= 19 and luhn_ok(digits) and not valid_id_card(digits):
                yield m.start(), m.end(), ""
    elif rule.kind == "required":
        assert rule._compiled is not None
        if rule._compiled.search(text) is None:
            yield 0, 0, ""


def lint(
    text: str,
    *,
    category: str | None = None,
    angry: bool = False,
    role: str = "agent",
    rules: Sequence[Rule] = DEFAULT_RULES,
) -> LintResult:
    """Every finding of the rules that apply, ordered by position (missing elements first).

    Raises ValueError for an unknown category or role."""
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    findings: list[Finding] = []
    for rule in rules:
        if not rule.applies(category=category, angry=angry, role=role):
            continue
        for start, end, extra in _check(rule, text, role):
            findings.append(
                Finding(
                    rule=rule.id,
                    severity=rule.severity,
                    start=start,
                    end=end,
                    message=rule.message + extra,
                    suggestion=rule.suggestion,
                )
            )
    rank = {rule.id: i for i, rule in enumerate(rules)}
    findings.sort(key=lambda f: (f.start, rank[f.rule], f.end))
    return LintResult(blocked=any(f.severity == "block" for f in findings), findings=findings)
