"""Entities in customer messages: order and tracking numbers, phones, amounts, dates, sizes …

Rules, not a model: every pattern is anchored on digits or a closed word list, so precision is
high and the behaviour is explainable to a merchant. Spans index the *original* text; matching
runs on a width- and case-folded copy of the same length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from xiaoer.nlp.text import fold_width

ENTITY_TYPES = (
    "order_no",
    "tracking_no",
    "phone",
    "amount",
    "date",
    "size",
    "color",
    "quantity",
)


@dataclass(frozen=True)
class Entity:
    """One entity: `text` is `original[start:end]`; `value` is the normalised form.

    Values: order/tracking numbers upper-cased without separators; phone `+86` E.164-like
    digits; amount a decimal string (meta["currency"]); date ISO `YYYY-MM-DD` (meta["relative"]);
    size "XL" / "38" / "170cm" / "60kg" (meta["kind"]); colour the simplified colour word;
    quantity an integer string (meta["unit"]). Tracking numbers carry meta["carrier"] (or None).
    """

    type: str
    start: int
    end: int
    text: str
    value: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


# ---------------------------------------------------------------- Chinese numerals
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUM = r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+)"


def parse_number(s: str) -> float | None:
    """Arabic or Chinese numeral ("12", "3.5", "两", "十五", "一百二十") → number."""
    try:
        return float(s)
    except ValueError:
        pass
    total, section, digit = 0, 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                total += (section + digit) * unit
                section = 0
            else:
                section += (digit or 1) * unit
            digit = 0
        else:
            return None
    return float(total + section + digit)


def _fmt_number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------- numbers: orders, tracking
_CARRIER_WORDS = {
    "顺丰": "SF",
    "中通": "ZTO",
    "圆通": "YTO",
    "韵达": "YUNDA",
    "申通": "STO",
    "京东": "JD",
    "ems": "EMS",
    "邮政": "EMS",
    "极兔": "JTEXPRESS",
    "德邦": "DEPPON",
}
# Carrier-specific shapes (on folded text, so letters are lower case).
_CARRIER_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"sf\d{12,13}"), "SF"),
    (re.compile(r"jd[a-z]{1,2}\d{11,15}"), "JD"),
    (re.compile(r"yt\d{13,15}"), "YTO"),
    (re.compile(r"jt\d{13}"), "JTEXPRESS"),
    (re.compile(r"dpk\d{12}"), "DEPPON"),
    (re.compile(r"e[a-z]\d{9}cn"), "EMS"),
    (re.compile(r"7[35]\d{10,12}"), "ZTO"),
    (re.compile(r"(?:43|46|31)\d{11}"), "YUNDA"),
    (re.compile(r"(?:77|268|368|468|568|668|868|968)\d{9,12}"), "STO"),
]
_TRACKING_CONTEXT = re.compile(r"(快递单|运单|物流单|快递号|单号是快递|物流号|tracking|waybill)")
_ORDER_CONTEXT = re.compile(r"(订单|order)")
_NOT_ORDER_CONTEXT = re.compile(r"(身份证|银行卡|卡号|账号|银行|id card|手机号|电话)")
_DEFAULT_ORDER_PATTERNS = (r"[a-z]{1,4}\d{10,20}", r"\d{12,20}")
_DEFAULT_ORDERS = tuple(re.compile(p) for p in _DEFAULT_ORDER_PATTERNS)
_ALNUM_RUN = re.compile(r"(?<![a-z0-9])[a-z]{0,4}\d[\d-]{8,24}(?:cn)?(?![a-z0-9])")


@lru_cache(maxsize=64)
def _compile_orders(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"(?<![a-z0-9])(?:{p})(?![a-z0-9])", re.IGNORECASE) for p in patterns)


def _shop_orders(
    original: str, folded: str, order_res: tuple[re.Pattern[str], ...]
) -> list[tuple[Entity, int]]:
    out = []
    for rx in order_res:
        for m in rx.finditer(folded):
            value = re.sub(r"[\s-]", "", m.group()).upper()
            ent = Entity("order_no", m.start(), m.end(), original[m.start() : m.end()], value, {})
            out.append((ent, 4))
    return out


def _carrier_from_context(folded: str, start: int) -> str | None:
    window = folded[max(0, start - 12) : start]
    best: tuple[int, str] | None = None
    for word, code in _CARRIER_WORDS.items():
        pos = window.rfind(word)
        if pos >= 0 and (best is None or pos > best[0]):
            best = (pos, code)
    return best[1] if best else None


def _numbers(
    original: str, folded: str, order_res: tuple[re.Pattern[str], ...] | None
) -> list[tuple[Entity, int]]:
    found: list[tuple[Entity, int]] = []
    for m in _ALNUM_RUN.finditer(folded):
        raw = m.group()
        if raw.endswith("-"):
            raw = raw.rstrip("-")
        start, end = m.start(), m.start() + len(raw)
        compact = raw.replace("-", "")
        before = folded[max(0, start - 10) : start]
        prefix_carrier = next((c for r, c in _CARRIER_SHAPES if r.fullmatch(compact)), None)
        context_carrier = _carrier_from_context(folded, start)
        tracking_ctx = bool(_TRACKING_CONTEXT.search(before)) or context_carrier is not None
        order_ctx = bool(_ORDER_CONTEXT.search(before))
        digits_only = compact.isdigit()
        text = original[start:end]
        if _NOT_ORDER_CONTEXT.search(before) and not (order_ctx or tracking_ctx):
            continue
        if re.fullmatch(r"0\d{2,3}-\d{7,8}", raw):
            continue  # a landline number
        if digits_only and 11 <= len(compact) <= 13 and re.fullmatch(r"1[3-9]\d{9}", compact):
            continue  # a mobile number, handled by _phones
        is_tracking = tracking_ctx and not order_ctx
        if not is_tracking and not order_ctx and prefix_carrier and not digits_only:
            is_tracking = True  # SF…/JD…/EMS shapes without any context are waybills
        if is_tracking:
            found.append(
                (
                    Entity(
                        "tracking_no",
                        start,
                        end,
                        text,
                        compact.upper(),
                        {"carrier": context_carrier or prefix_carrier},
                    ),
                    3,
                )
            )
            continue
        if order_res is None and any(r.fullmatch(compact) for r in _DEFAULT_ORDERS):
            found.append((Entity("order_no", start, end, text, compact.upper(), {}), 3))
    return found


# ---------------------------------------------------------------- phones
_PHONE_RE = re.compile(
    r"(?<![\d.])(?:(?:\+?86)[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![\d])"
    r"|(?<![\d.])(0\d{2,3})-(\d{7,8})(?!\d)"
)


def _phones(original: str, folded: str) -> list[tuple[Entity, int]]:
    out = []
    for m in _PHONE_RE.finditer(folded):
        if m.group(1):
            value = "+86" + m.group(1) + m.group(2) + m.group(3)
            meta = {"kind": "mobile"}
        else:
            value = "+86" + m.group(4)[1:] + m.group(5)
            meta = {"kind": "landline"}
        out.append(
            (Entity("phone", m.start(), m.end(), original[m.start() : m.end()], value, meta), 3)
        )
    return out


# ---------------------------------------------------------------- amounts
_AMOUNT_RES = [
    re.compile(r"(?:¥|rmb|cny|人民币)\s*(?P<n>\d+(?:\.\d+)?)(?:\s*(?:元|块钱?))?"),
    re.compile(r"\$\s*(?P<n>\d+(?:\.\d+)?)", re.IGNORECASE),
    re.compile(
        rf"(?P<n>{_NUM})\s*(?:元|块钱|块|rmb|人民币|yuan)(?P<jiao>[一二两三四五六七八九\d](?!\s*[件个双条套天号]))?"
    ),
    re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?:dollars?|usd|bucks)\b"),
]


def _amounts(original: str, folded: str) -> list[tuple[Entity, int]]:
    out = []
    for i, rx in enumerate(_AMOUNT_RES):
        for m in rx.finditer(folded):
            n = parse_number(m.group("n"))
            if n is None:
                continue
            jiao = m.groupdict().get("jiao")
            if jiao:
                j = parse_number(jiao)
                n += (j or 0) / 10
            currency = "USD" if i in (1, 3) else "CNY"
            text = original[m.start() : m.end()]
            out.append(
                (
                    Entity(
                        "amount", m.start(), m.end(), text, _fmt_number(n), {"currency": currency}
                    ),
                    2,
                )
            )
    return out


# ---------------------------------------------------------------- dates
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_REL_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_REL_DAYS |= {"昨天": -1, "昨日": -1, "前天": -2, "大前天": -3}
_DATE_RES = [
    ("ymd", re.compile(r"(?<!\d)(20\d\d)[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?(?!\d)")),
    ("md", re.compile(r"(?<![\d.])(\d{1,2})月(\d{1,2})[日号]")),
    ("md", re.compile(r"(?<![\d.\-/])(\d{1,2})/(\d{1,2})(?![\d/])")),
    ("d", re.compile(r"(?<![\d月.])(\d{1,2})[号日](?![\d码])")),
    ("rel", re.compile("大后天|大前天|今天|今日|明天|明日|后天|昨天|昨日|前天")),
    ("week", re.compile(r"(上|下下|下|这|本)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末])")),
    ("after", re.compile(rf"(?P<n>{_NUM})\s*(?:个)?(?P<u>天|周|星期|个月)(?:以后|之后|后)")),
    ("days", re.compile(r"(?P<n>\d+)\s*days?\s*(?:later|from now)")),
    ("en", re.compile(r"\b(today|tomorrow|yesterday)\b")),
]


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _dates(original: str, folded: str, today: date) -> list[tuple[Entity, int]]:
    out = []
    for kind, rx in _DATE_RES:
        for m in rx.finditer(folded):
            value: date | None = None
            relative = True
            if kind == "ymd":
                value = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                relative = False
            elif kind == "md":
                value = _safe_date(today.year, int(m.group(1)), int(m.group(2)))
                relative = False
            elif kind == "d":
                value = _safe_date(today.year, today.month, int(m.group(1)))
                relative = False
            elif kind == "rel":
                value = today + timedelta(days=_REL_DAYS[m.group()])
            elif kind == "week":
                target = _WEEKDAYS[m.group(2)]
                week_shift = {"上": -1, "下": 1, "下下": 2}.get(m.group(1) or "", 0)
                monday = today - timedelta(days=today.weekday())
                value = monday + timedelta(days=7 * week_shift + target)
                if not m.group(1) and value < today:
                    value += timedelta(days=7)  # a bare "周三" means the coming one
            elif kind == "after":
                n = parse_number(m.group("n"))
                if n is None or n > 3650:
                    continue
                unit = {"天": 1, "周": 7, "星期": 7, "个月": 30}[m.group("u")]
                value = today + timedelta(days=int(n * unit))
            elif kind == "days":
                value = today + timedelta(days=int(m.group("n")))
            elif kind == "en":
                value = today + timedelta(
                    days={"today": 0, "tomorrow": 1, "yesterday": -1}[m.group(1)]
                )
            if value is None:
                continue
            text = original[m.start() : m.end()]
            ent = Entity(
                "date", m.start(), m.end(), text, value.isoformat(), {"relative": relative}
            )
            out.append((ent, 2))
    return out


# ---------------------------------------------------------------- sizes
_SIZE_RES = [
    ("height", re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)\s*(cm|厘米|公分)")),
    (
        "height_m",
        re.compile(r"(?<![\d.])(1(?:\.\d{1,2}|米\d{1,2}))\s*(?:m|米)?(?![\d])(?=[^\d]|$)"),
    ),
    ("weight", re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)\s*(kg|公斤|千克|斤)")),
    ("letter", re.compile(r"(?<![a-z'’])((?:[2-5]x|x{1,3})?l|xs|s|m)(?:码|号)?(?![a-z0-9])")),
    ("number", re.compile(r"(?<![\d.])(\d{2})\s*(?:码|号鞋|号的鞋)")),
    ("free", re.compile(r"均码|大码|小码|加大码")),
]
_SIZE_CONTEXT = re.compile(r"(码|号|尺寸|尺码|size|穿|大小)")


def _sizes(original: str, folded: str) -> list[tuple[Entity, int]]:
    out = []
    for kind, rx in _SIZE_RES:
        for m in rx.finditer(folded):
            text = original[m.start() : m.end()]
            if kind == "height":
                value, meta_kind = m.group(1) + "cm", "height"
            elif kind == "height_m":
                raw = m.group(1)
                if "米" in raw:
                    cm = 100 + int(raw.split("米")[1].ljust(2, "0")[:2])
                else:
                    cm = round(float(raw) * 100)
                if not 100 <= cm <= 220 or not re.search(
                    r"(身高|高|个子|米)", folded[max(0, m.start() - 4) : m.end() + 1]
                ):
                    continue
                value, meta_kind = f"{cm}cm", "height"
            elif kind == "weight":
                n = float(m.group(1))
                kg = n / 2 if m.group(2) == "斤" else n
                value, meta_kind = _fmt_number(kg) + "kg", "weight"
            elif kind == "letter":
                raw_orig = original[m.start(1) : m.end(1)]
                has_suffix = m.end() > m.end(1)
                around = folded[max(0, m.start() - 6) : m.end() + 2]
                # Lone "s"/"m"/"l" are sizes only when written upper case or next to a size word.
                if not has_suffix and not (
                    raw_orig.isupper()
                    and (
                        len(raw_orig) > 1
                        or _SIZE_CONTEXT.search(around)
                        or _CJK_NEAR.search(around)
                    )
                ):
                    continue
                value, meta_kind = (
                    raw_orig.upper().replace("XXXL", "3XL").replace("XXL", "2XL"),
                    "letter",
                )
            elif kind == "number":
                n = int(m.group(1))
                if not 20 <= n <= 50:
                    continue
                value, meta_kind = str(n), "number"
            else:
                value, meta_kind = m.group(), "free"
            out.append((Entity("size", m.start(), m.end(), text, value, {"kind": meta_kind}), 2))
    return out


_CJK_NEAR = re.compile(r"[\u4e00-\u9fff]")

# ---------------------------------------------------------------- colours
_COLOR_BASE = (
    "卡其|藏青|酒红|军绿|天蓝|宝蓝|墨绿|玫红|咖啡|香槟|奶白|米白|雾霾蓝|浅灰|深灰|浅蓝|深蓝|"
    "浅粉|深红|亮黑|哑光黑|红|黑|白|蓝|绿|黄|紫|灰|粉|橙|棕|银|金|青|米|杏|驼|褐"
)
_COLOR_RE = re.compile(
    rf"(?:[浅深淡亮暗]?(?:{_COLOR_BASE}))色|(?:藏青|卡其|酒红|军绿|米白|玫红|雾霾蓝)"
)
_COLOR_EN = re.compile(
    r"\b(black|white|red|blue|green|yellow|purple|grey|gray|pink|orange|brown|navy|beige|khaki)\b"
)


def _colors(original: str, folded: str) -> list[tuple[Entity, int]]:
    out = []
    for m in _COLOR_RE.finditer(folded):
        value = m.group() if m.group().endswith("色") else m.group() + "色"
        out.append(
            (Entity("color", m.start(), m.end(), original[m.start() : m.end()], value, {}), 1)
        )
    for m in _COLOR_EN.finditer(folded):
        value = "gray" if m.group(1) == "grey" else m.group(1)
        out.append(
            (Entity("color", m.start(), m.end(), original[m.start() : m.end()], value, {}), 1)
        )
    return out


# ---------------------------------------------------------------- quantities
_QTY_UNITS = "件个双条套盒瓶包箱只台部本支袋份把张顶罐斤提"
_QTY_RE = re.compile(
    rf"(?<![\d.a-z第])(?P<n>\d{{1,4}}|[一二两三四五六七八九十]{{1,3}})\s*(?P<u>[{_QTY_UNITS}])(?!码|号|月|天)"
)
_QTY_X_RE = re.compile(
    r"(?:[x×*]\s*(?P<a>\d{1,3})(?![\d.])|(?<![a-z\d])(?P<b>\d{1,3})\s*(?:pcs|pieces|items)\b)"
)


def _quantities(original: str, folded: str) -> list[tuple[Entity, int]]:
    out = []
    for m in _QTY_RE.finditer(folded):
        if m.group("u") == "斤":
            continue  # weight, handled by sizes
        n = parse_number(m.group("n"))
        if n is None or n <= 0:
            continue
        text = original[m.start() : m.end()]
        out.append(
            (
                Entity(
                    "quantity", m.start(), m.end(), text, _fmt_number(n), {"unit": m.group("u")}
                ),
                1,
            )
        )
    for m in _QTY_X_RE.finditer(folded):
        n_str = m.group("a") or m.group("b")
        if m.group("a") and m.start() > 0 and folded[m.start() - 1].isalnum():
            continue  # "2x3" dimensions, "xl"
        text = original[m.start() : m.end()]
        out.append(
            (Entity("quantity", m.start(), m.end(), text, str(int(n_str)), {"unit": None}), 1)
        )
    return out


# ---------------------------------------------------------------- resolution
def _resolve(candidates: list[tuple[Entity, int]]) -> list[Entity]:
    """Keep non-overlapping candidates: higher priority first, then longer spans, then earlier."""
    ordered = sorted(candidates, key=lambda c: (-c[1], -(c[0].end - c[0].start), c[0].start))
    taken: list[Entity] = []
    for ent, _ in ordered:
        if ent.end <= ent.start:
            continue
        if all(ent.end <= t.start or ent.start >= t.end for t in taken):
            taken.append(ent)
    return sorted(taken, key=lambda e: e.start)


def extract_entities(
    text: str,
    *,
    order_patterns: Sequence[str] | None = None,
    today: date | None = None,
) -> list[Entity]:
    """All entities in `text`, sorted by position, non-overlapping.

    `order_patterns`: regular expressions for the shop's order numbers (case-insensitive, matched
    on the width-folded text between non-alphanumerics; the value drops spaces and dashes). They
    replace the default, which covers 12–20 digit Taobao/JD numbers and up to four letters
    followed by 10–20 digits ("XE20261123583907"). A number is a tracking number instead when it
    follows a waybill word (快递单号, 运单号 …) or a carrier name, or has a carrier's own shape
    (SF…, JD…, EMS E?…CN). `today` anchors relative dates (default: the local date).
    """
    folded = fold_width(text)
    order_res = _compile_orders(tuple(order_patterns)) if order_patterns else None
    day = today or date.today()  # noqa: DTZ011 - the shop's local date is what a customer means
    candidates = _numbers(text, folded, order_res)
    if order_res is not None:
        candidates += _shop_orders(text, folded, order_res)
    candidates += _phones(text, folded)
    candidates += _amounts(text, folded)
    candidates += _dates(text, folded, day)
    candidates += _sizes(text, folded)
    candidates += _colors(text, folded)
    candidates += _quantities(text, folded)
    return _resolve(candidates)
