"""Compliance lint for answers (话术合规检查): pure functions, no database, no web.

`lint(text, category=…, angry=…, role=…)` checks a script answer or an agent's draft reply against
a rule set and returns every finding with its character span in the *original* text, so the
editor can underline it. A finding whose rule says something is **missing** (a complaint answer
without a remedy, an after-sale answer without a concrete time) has no place in the text: its
span is `start = end = 0`.

Rule kinds:
- `phrases`: any of the listed phrases or patterns (longest phrase wins where they overlap);
- `regex`: any match of the listed regular expressions;
- `compensation`: a promised amount (赔您200元, 补偿50元, ¥30 红包 …) above the role's limit
  (`limits_cents`; a role without a limit may promise anything), and, for a role with a limit,
  compensation promised without an amount (双倍赔偿, 损失我们全部承担, 给您一个满意的补偿);
- `id_card`: an 18-character mainland ID number with a valid birth date and check digit (or
  right after the word 身份证, whatever its check digit);
- `bank_card`: a 16–19 digit card number (optionally grouped) starting with 3–6 and passing the
  Luhn check (or right after 卡号/银行卡 …); a number that is an ID card is reported only as one;
- `phone`: a mainland mobile number in any written form (plain, dashed, spaced, +86/0086, （+86）);
  masked numbers (138****5678) and landlines (the shop's hotline) pass;
- `address`: a full street address (road and house number, with an administrative area or a
  building/room part), unless the text says it is the shop's own (退货地址, 实体店 …);
- `required`: none of the phrases/patterns occurs → one finding at span (0, 0).

Every kind honours `exceptions`: regular expressions whose matches cover harmless uses
(100%纯棉, 为了保证, 不可能, 不支持退款 …); a hit overlapping an exception match does not count.
A shop's allowed phrases (e.g. 假一赔十 when that is its real policy) are added as literal
exceptions. The number kinds skip numbers that the words just before them call an order or
tracking number.

A rule applies only to its `categories` (None = every category, including "no category"), only
when the customer is angry if `angry_only`, and only to its `roles` (None = every role).
`blocked` is true when any finding has severity `block`. Every pattern is compiled once, when
the rule is built; a 500-character reply lints in well under a millisecond (see bench/assist.py).
The rules' sources and measured precision/recall are in docs/subsystems/script-library.md.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import phonenumbers

Severity = Literal["block", "warn"]
RuleKind = Literal[
    "phrases", "regex", "compensation", "id_card", "bank_card", "phone", "address", "required"
]

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
    """One compliance rule; `phrases` are literal, `patterns` and `exceptions` are regular
    expressions, `allowed` are literal exceptions (a shop's own policy wording)."""

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
    exceptions: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _except: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parts = [re.escape(p) for p in sorted(set(self.phrases), key=len, reverse=True)]
        parts += [f"(?:{p})" for p in self.patterns]
        if self.kind == "compensation" and not parts:
            parts = [_COMPENSATION, _UNQUANTIFIED]
        if parts:
            object.__setattr__(self, "_compiled", _compile_gated("|".join(parts)))
        excepts = [f"(?:{p})" for p in self.exceptions]
        excepts += [re.escape(p) for p in sorted(set(self.allowed), key=len, reverse=True) if p]
        if excepts:
            object.__setattr__(self, "_except", _compile_gated("|".join(excepts)))

    def applies(self, *, category: str | None, angry: bool, role: str) -> bool:
        if self.categories is not None and category not in self.categories:
            return False
        if self.angry_only and not angry:
            return False
        return self.roles is None or role in self.roles


# ---------------------------------------------------------------------------------------------
# Fast matching

try:
    _parser: Any = importlib.import_module("re._parser")
    _C: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - other Pythons: no gate, same results
    _parser = None


def _first_chars(items: Any) -> tuple[set[str] | None, bool]:
    """The characters a match of the parsed `items` can start with (None: any), and whether
    `items` can match the empty string."""
    out: set[str] = set()
    for op, av in items:
        if op is _C.LITERAL:
            return out | {chr(av)}, False
        if op is _C.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is _C.LITERAL:
                    chars.add(chr(a))
                elif o is _C.RANGE and a[1] - a[0] <= 100:
                    chars |= {chr(c) for c in range(a[0], a[1] + 1)}
                elif o is _C.CATEGORY and a is _C.CATEGORY_DIGIT:
                    chars |= set("0123456789")
                else:
                    return None, False
            return out | chars, False
        if op is _C.CATEGORY and av is _C.CATEGORY_DIGIT:
            return out | set("0123456789"), False
        if op in (_C.BRANCH, _C.SUBPATTERN, _C.MAX_REPEAT, _C.MIN_REPEAT):
            if op is _C.BRANCH:
                alternatives, at_least_once = av[1], True
            elif op is _C.SUBPATTERN:
                alternatives, at_least_once = [av[3]], True
            else:
                alternatives, at_least_once = [av[2]], av[0] > 0
            nullable = False
            for alternative in alternatives:
                chars_, empty = _first_chars(alternative)
                if chars_ is None:
                    return None, False
                out |= chars_
                nullable = nullable or empty
            if at_least_once and not nullable:
                return out, False
            continue
        if op in (_C.ASSERT, _C.ASSERT_NOT, _C.AT):
            continue
        return None, False
    return out, True


def _compile_gated(pattern: str) -> re.Pattern[str]:
    """`pattern` behind a lookahead for the characters a match can start with: the regex engine
    then skips every other position with a fast scan (5–10x faster on a 500-character reply)
    and finds exactly the same matches."""
    if _parser is not None:
        try:
            chars, empty = _first_chars(list(_parser.parse(pattern)))
        except Exception:  # a parser detail we do not know: keep the plain pattern
            chars, empty = None, True
        if chars and not empty:
            gate = "".join(re.escape(c) for c in sorted(chars))
            return re.compile(f"(?=[{gate}])(?:{pattern})")
    return re.compile(pattern)


# ---------------------------------------------------------------------------------------------
# Checksums and amounts

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_CARD = _compile_gated(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_BANK_CARD = _compile_gated(r"(?<![\d-])[3-6]\d{3}(?:[ -]?\d){12,15}(?![\d-])")


def _id_date_ok(number: str) -> bool:
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return born.year >= 1900


def valid_id_card(number: str) -> bool:
    """A mainland resident ID number (18 characters): plausible birth date and ISO 7064 check."""
    if len(number) != 18 or not number[:17].isdigit() or not _id_date_ok(number):
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
# Compensation promised without an amount: nobody can tell whether it is within the limit.
_MULTIPLE = r"(?:双|加|翻|[二两三四五六七八九十\d]+)倍"
_UNQUANTIFIED = (
    rf"(?P<na>{_MULTIPLE}(?:的)?(?:赔偿|赔付|补偿|赔|退款|返还)"
    rf"|(?:赔|赔偿|补偿)(?:给)?(?:您|你)?{_MULTIPLE}"
    r"|(?:一切|所有|全部)(?:的)?损失|赔偿(?:您|你)?(?:的)?损失"
    r"|(?:全部|全都|统统|一律)(?:给您)?(?:赔偿|赔付|补偿|赔)"
    r"|损失(?:我们|都|由我们|全部|全|会)*(?:承担|负责|赔)"
    r"|(?:(?:给|为|赔)(?:您|你)(?:一个|一些|一份|相应的?|满意的|合理的|适当的?)*(?:补偿|赔偿)"
    r"|(?:会|一定|肯定|保证)(?:给您|为您)?(?:补偿|赔偿)(?:您|你)?)"
    r"(?!\s*(?:[¥￥\d]|[一二两三四五六七八九十百千]+\s*(?:元|块|张|个)))"
    r"(?:的)?)"
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

_CN = r"[\u4e00-\u9fff]"
_NUM = r"(?:\d+|[一二两三四五六七八九十半]+)"
_END = r"[，。！？,.!?;；~～\n]"
# A clause: what follows up to the next punctuation mark.
_CLAUSE = r"[^，。！？,.!?;；~～\n]"
_TIME_SPAN = (
    rf"{_NUM}\s*(?:(?:-|~|到|至)\s*{_NUM}\s*)?(?:个)?\s*(?:多)?"
    r"(?:小时|分钟|工作日|天|日|周|星期|礼拜|月)"
)
# A concrete time or moment (what an after-sale answer and a complaint's next step need).
_CONCRETE_TIME = (
    rf"{_TIME_SPAN}"
    r"|今天|今日|今晚|今早|今儿|明天|明早|明晚|明日|后天|当天|当日|本周|这周|下周|周[一二三四五六日末]"
    r"|\d{1,2}\s*(?:[点:：]|号前|号之前)|[一二两三四五六七八九十]{1,3}点(?:前|之前|半|钟)"
    r"|\d+\s*[hH](?![A-Za-z])|中午前|下班前|月底前|马上|立即|立刻|即刻|现在就|这就|实时"
)

# Materials and label facts after 100% / 百分之百 are not claims (100%纯棉, 100%桑蚕丝).
_MATERIAL = (
    r"(?:100\s*[%％]|百分之百|百分百)\s*(?:的)?\s*(?:纯|全|新疆|长绒|澳洲|天然|进口|有机|精梳|白)*"
    r"(?:棉|羊毛|羊绒|真丝|桑蚕丝|蚕丝|麻|亚麻|涤纶|聚酯|锦纶|氨纶|粘纤|莫代尔|天丝|鹅绒|鸭绒|"
    r"牛皮|头层|羊皮|纯金|足金|纯银|原装|原厂|木|竹|硅胶|不锈钢|纯铜)"
)
# A day the parcel is promised for (the certainty rule needs one: 后天肯定到).
_WHEN = (
    r"今天|今晚|明天|明早|明晚|后天|周[一二三四五六日末]|星期[一二三四五六日天]|礼拜|"
    r"\d+\s*(?:号|日|天)|[一二两三四五六七八九十]+天|这周|本周|下周|月底|节前|年前"
)
_ARRIVE = (
    r"(?:送到|送达|收到|到货|签收|到达|到家|到手|到您|派送到"
    r"|(?<![做找得办想看拿提])到(?=[了的啦哈哦呢吧呀，。！？,.!~～ ]|$))"
)

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
        patterns=(
            # Efficacy and durability in digits or words: 100%有效, 永不褪色, 永久保修.
            r"100\s*[%％]",
            r"永久|永不|永远不|一辈子都不|绝不(?:会)?(?:掉|褪|起|缩|坏|变|断|漏|破|开线|过敏|失效)",
            r"无(?:任何)?副作用|零风险|药到病除|根治|立竿见影|一次见效|包治",
            # Personal guarantees: 我保证, 我跟您保证, 保证送到, 保证瘦, 保证不缩水.
            r"我(?:们)?(?:跟您|跟你|向您|和您|给您)?保证",
            r"保证(?:送到|送达|到|能|会|明天|今天|后天|周|\d|[一二两三四五六七八九十]|瘦|有效|好用|"
            r"管用|满意|没问题|没有|无|不|正品|效果|质量|您|你|让您|百分|白|美|高|长|掉|降|祛|去|消|治|"
            r"变|睡|吃|用|穿|喝|减|增|能|会|一)",
            # 假一赔十 and the like: only a shop whose real policy it is may allow it.
            r"(?:假|退)一赔[一二两三四五六七八九十百千万\d]+",
            # A delivery date the shop does not control, stated as certain: 后天肯定到.
            rf"(?:{_WHEN}){_CLAUSE}{{0,10}}?(?:肯定|一定|必定|准能|保准){_CLAUSE}{{0,8}}?{_ARRIVE}",
            rf"(?:肯定|一定|必定|准能|保准)(?:能|会|可以|是)?(?:在)?(?:{_WHEN}){_CLAUSE}{{0,8}}?{_ARRIVE}",
            r"准到|必到|稳到|包到",
        ),
        exceptions=(
            _MATERIAL,
            r"(?:为了|为|以|来|用来|以便|才能|确保|务必|尽量|尽力|努力|无法|不能|不敢|没法)保证",
            r"保证金|保证期|保证书|正品保证|质量保证期",
            r"不一定|不肯定|说不准|一定要|务必",
            # A battery charged to 100% is a fact, not an efficacy claim.
            r"充(?:到|满|至)?\s*100\s*[%％]|100\s*[%％]\s*(?:的)?电|电量\s*(?:到)?\s*100",
            r"绝对化",
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
            "世界级",
            "史上最低",
            "第一品牌",
            "销量第一",
            "独一无二",
            "没有之一",
            "行业领先",
            "绝无仅有",
            "史无前例",
        ),
        patterns=(
            # 最 + a quality used as a claim (not 最近 / 最晚 / 最多 / 最新 / 最快 …).
            r"最(?:好用|好看|好穿|好吃|好喝|佳|强|牛|棒|耐用|耐穿|耐磨|舒服|舒适|保暖|划算|实惠|"
            r"安全|健康|环保|正宗|专业|权威|畅销|受欢迎|火|热销|先进|高端|高级|顶级|显瘦|透气|"
            r"柔软|亲肤|结实|值|靠谱|稳|轻薄|大牌|时尚|漂亮|干净|持久|省电|好卖|低的价|优惠的价|"
            r"美|甜|香|嫩|新鲜|纯正|完美|高效|精准|智能|省心|受好评|优质|优秀|可靠|经典|流行|潮|"
            r"有效|温和|保湿|补水|耐脏|抗皱|防水|静音|清晰|流畅|给力|便捷|轻便|暖和|凉快|全面)",
            r"最好(?:的|了|不过)|(?:是|得|卖得|质量|品质|做工|效果|口碑|性价比|面料|服务)最好",
            r"(?:性价比|品质|质量|评分|销量|人气|配置|档次)(?:是)?最高|最高(?:端|级|品质|标准|水平)",
            r"同类(?:产品|商品)?(?:里|中)?最|之最|史上最|全网最|全球最|全国最|世界最",
            # Rank claims: 全国第一, 销量NO.1, 类目TOP1 (not 第一时间 / 第一次 / 第一步).
            r"(?:全国|全网|全球|世界|中国|国内|亚洲|行业|销量|排名|排行|类目|品类|同类|天猫|京东|"
            r"淘宝|抖音|人气|口碑|宇宙|业内|好评|回购|复购|榜单)(?:排名|排行|榜)?第[一1](?!\d)",
            r"销量冠军|销冠|冠军单品|爆款之王|遥遥领先",
            r"第一(?:品牌|名)|[Nn][Oo]\s*[.．]?\s*1(?!\d)|[Tt][Oo][Pp]\s*1(?!\d)",
            r"顶级|顶尖|极品|王牌|唯一|独家",
        ),
        exceptions=(
            r"唯一(?:的)?(?:办法|方式|途径|渠道|要求|区别|条件|缺点|不足|问题|需要|要注意|注意|差别)",
        ),
        message="误导性宣传：违反广告法的极限用语或无法证明的比较",
        suggestion="删除极限用语，只陈述可证明的事实，例如“活动期间到手价 XX 元”",
    ),
    Rule(
        id="vague_commitment",
        kind="phrases",
        severity="warn",
        phrases=("尽快", "稍后", "或许", "尽量", "尽可能"),
        patterns=(
            # Hedges count when the clause commits to an action or a time (应该明天发货), not in
            # an explanation (可能有一点色差) or a measurement (大概的尺寸).
            r"(?:可能|大概|应该|也许|估计|差不多)(?!的|做的)"
            rf"(?={_CLAUSE}*?(?:发货|发出|到|送|派|收到|退|补|换|处理|回复|答复|联系|通知|"
            rf"安排|审核|解决|更新|开|寄|上架|恢复|很快|马上|{_CONCRETE_TIME}|月底|月初|几天|"
            rf"下个?(?:月|周|星期)))",
        ),
        exceptions=(
            r"不可能|不应该|没可能|稍后再(?:试|刷新|重试|看|查看|操作|登录|支付)|稍后重试",
            r"应该(?:的|做的)",
            # A specification, not a promise: 续航大概是7天, 差不多2公斤.
            r"(?:大概|差不多|大约)(?:是|要|需要)?\s*\d+(?:\.\d+)?\s*(?:天|小时|分钟|cm|厘米|公斤|斤|克|毫安|米|寸)"
            r"(?:左右)?(?=[，。！？,.!?~～]|$)",
        ),
        message="模糊承诺：答复需要明确的处理方式和时间",
        suggestion="给出确定的时间和动作，例如“我们会在 48 小时内为您处理”",
    ),
    Rule(
        id="unauthorised_compensation",
        kind="compensation",
        severity="block",
        limits_cents={"agent": 5_000, "supervisor": 20_000},
        exceptions=(r"申请(?:补偿|赔偿)",),
        message="补偿金额超出您的权限，或补偿没有写明金额",
        suggestion="写明权限内的金额；超出权限的补偿需主管审批，可先说明“我为您申请补偿，稍后给您答复”",
    ),
    Rule(
        id="personal_data_phone",
        kind="phone",
        severity="block",
        message="包含手机号码：个人信息不得明文发送",
        suggestion="只保留后四位，例如“尾号 5678 的手机”，或写成 138****5678",
    ),
    Rule(
        id="personal_data_address",
        kind="address",
        severity="block",
        message="包含详细地址：个人信息不得明文发送",
        suggestion="只写到城市或区，例如“您在杭州市西湖区的地址”，完整地址请在订单里核对",
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
        patterns=(
            r"请(?:您|你)?(?:多)?(?:理解|谅解)|希望(?:您|你)(?:能)?(?:理解|谅解)",
            r"这(?:是|就是|都是)[^，。！？]{0,5}规定|按规定办事|规定就是这样|规定如此",
            r"没(?:有)?办法|没辙|不可能",
            r"[你您]自己(?:去)?(?:看|查|联系|找|打)",
            r"[你您]听我(?:说|讲)|听我说完",
            r"不归我(?:们)?管|管不了|管不着|不关我们(?:的)?事|跟我们没(?:有)?关系|不是我们的(?:问题|责任)",
            r"说(?:过|了)(?:很多|好多|好几|无数|多少)(?:遍|次)|(?:已经|都|刚才|早就)说过了",
            r"要投诉(?:就)?(?:去)?投诉|[你您](?:就)?(?:去)?投诉吧|随便(?:您|你)?投诉",
            r"(?:去|自己)找快递|找快递(?:吧|去)|找平台吧",
            r"(?:别|不要)激动|冷静(?:一点|一下|点)",
            r"爱买不买|不想要就别买",
            r"(?:您|你)?(?:理解|体谅)一下|无能为力|爱莫能助|(?:也)?很无奈|做不了主",
            r"(?:不是|我不是)(?:跟|和|给)?(?:您|你)说(?:过|了)(?:吗|嘛)|(?:我)?再说一遍",
            r"(?:流程|规则|系统)就是这样|(?:我们)?也是按(?:规定|流程|规则)",
            r"[你您]自己(?:的问题|没看|选错|填错|不看)|[你您](?:没|不)看(?:详情|页面|说明)",
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
        patterns=(
            r"退差价|差价|换新|换一(?:件|个|双|台)|更换|无门槛券|代金券|\d+\s*元(?:的)?券|"
            r"退回|退给您|给您退|退您|(?:由|都由)?我们(?:来|会)?(?:全部|全额|全)?(?:承担|出)|运费我们|包退|包换|"
            r"免单|赠品|礼品|小礼物|积分|重新寄|再寄|再发一|补一(?:件|个|双|份)|补给您|换个|打款|"
            r"(?:给|为|帮)您换|换给您|"
            r"转(?:给)?(?:您|你)\s*\d+",
        ),
        # A refused remedy is no remedy: 不支持退款, 无法补发, 不能换货.
        exceptions=(
            r"(?:不|无法|没法|没办法|没有|不予|拒绝|暂不|暂时不|不能|不可以)"
            r"(?:支持|能够|能|可以|会|给|予|为您|帮您|给您|您|办理|做|了|再|提供|申请)*\s*"
            r"(?:(?:补偿|赔偿|赔付|退款|退货|换货|补发|重新发|重发|退差价|差价|换新|更换|补寄|维修|"
            r"退还|退回|退给您|给您退|退您|优惠券|红包|返现)[、和或/及]?)+",
            r"(?:补偿|赔偿|退款|退货|换货|补发|退差价|换新|补寄|维修|退还)(?:是|也|这个|的话)?"
            r"(?:退不了|办不了|换不了|补不了|不了|不支持|不行|不可以|不能|没法|做不到)",
        ),
        message="投诉答复缺少补偿或解决方案",
        suggestion="写明给客户的补救，例如“为您全额退款并补偿 10 元无门槛券”",
    ),
    Rule(
        id="complaint_missing_next_step",
        kind="required",
        severity="block",
        categories=_COMPLAINT,
        patterns=(
            # A time: 24小时内给您回复, 明天中午前补发, 今天18点前.
            _CONCRETE_TIME,
            # An owner who will act: 店长今晚会给您回电, 品控部门…书面回复, 由我全程跟进.
            r"(?:店长|主管|经理|组长|品控|质检|售后专员|专属客服|专员)"
            r"[^，。！？]{0,8}?(?:会|将|亲自|负责|给您|联系您|回复|回电|致电|打电话|答复)",
            r"由我|我本人|我亲自|我(?:来)?负责|我来对接|我(?:会|来)(?:全程|亲自|持续)?跟进|全程跟进",
            # "We will" + a concrete action: 我们会为您免费换货.
            r"我(?:们)?(?:这边)?(?:会|将|这就|现在|立即)(?:为您|给您|帮您)?(?:免费|全额)?"
            r"(?:办理|补发|补寄|换货|退款|退货|安排|登记|提交|联系您|回电|致电|寄出|发出|发货)",
        ),
        message="投诉答复缺少下一步处理流程（具体时间或负责人）",
        suggestion="告诉客户接下来谁在什么时候做什么，例如“我会在今天 18 点前电话联系您确认进度”",
    ),
    Rule(
        id="after_sale_missing_time",
        kind="required",
        severity="warn",
        categories=_AFTER_SALE,
        patterns=(_CONCRETE_TIME,),
        message="售后答复缺少具体时间承诺",
        suggestion="加上明确时限，例如“48小时内”“1个工作日内”",
    ),
)


# ---------------------------------------------------------------------------------------------
# Personal data

# Words just before a number that make it an order or tracking number, not a card or a phone.
_ORDER_CONTEXT = re.compile(
    r"(?:订单|单号|运单|快递单|物流单|编号|订单编号|包裹号|工单|order|tracking)"
    r"[^，。！？,!?\d]{0,6}$",
    re.IGNORECASE,
)
_CARD_CONTEXT = re.compile(
    r"(?:银行卡|卡号|储蓄卡|信用卡|借记卡|账户|账号|打款到|收款卡)[^，。！？,!?\d]{0,6}$"
)
_ID_CONTEXT = re.compile(r"(?:身份证|证件号|实名)[^，。！？,!?\d]{0,6}$")

# A mobile: 1[3-9]x, then 8 digits, with optional spaces or dashes, optionally after +86 / 0086.
_MOBILE = re.compile(
    r"(?<![\dA-Za-z])(?<!\d[\s-])"
    r"(?:(?:\+|00)\s*86[\s-]*|[(（]\s*\+?\s*86\s*[)）]\s*)?"
    r"1[3-9]\d(?:[\s-]?\d){8}"
    r"(?![\s-]?\d)"
)
_PHONE_HINT = re.compile(r"1[\s-]?[3-9]")

_ADMIN = rf"(?:{_CN}{{2,7}}?(?:省|自治区))?(?:{_CN}{{2,7}}?市)?(?:{_CN}{{1,7}}?(?:区|县|旗|镇|乡))?"
_ROAD = (
    rf"{_CN}[\u4e00-\u9fffA-Za-z0-9]{{0,10}}?(?:路|街|大道|道|巷|弄|胡同)(?:[东西南北中]?段)?"
    r"\s*\d{1,5}\s*(?:号|弄)(?:院)?"
)
_BUILDING = r"(?:号楼|栋|幢|座|单元|室|楼|层|塔|\d{3,4}(?!\d))"
_ADDRESS = re.compile(
    rf"(?P<admin>{_ADMIN})(?P<road>{_ROAD})(?P<rest>[\u4e00-\u9fffA-Za-z0-9\-]{{0,30}})"
    rf"|(?P<admin2>{_CN}{{2,7}}?(?:市|区|县))[\u4e00-\u9fffA-Za-z0-9]{{2,20}}?"
    r"\d+\s*(?:号楼|栋|幢|座)\s*(?:\d+\s*单元)?\s*\d{3,4}(?!\d)室?"
    rf"|{_CN}{{2,10}}?(?:小区|花园|公寓|家园|新村|社区|大厦|苑|府|城|村)\s*[A-Za-z0-9]+\s*"
    r"(?:号楼|栋|幢|座)\s*(?:\d+\s*单元)?\s*\d{3,4}(?!\d)室?"
)
# Words that say the text around is the customer's address, even without a city or a room.
_ADDRESS_CUE = re.compile(r"(?:地址|寄到|送到|住在|住址|收件|收货)[^，。！？\d]{0,4}$")
# The shop's own addresses (return warehouse, store) are meant to be sent.
_SHOP_ADDRESS = re.compile(
    r"退货|退回|寄回|退换|售后仓|售后组|售后部|仓库|退货仓|实体店|门店|专柜|本店|我们的?(?:店|公司|地址)"
    r"|公司地址|店铺地址|欢迎"
)


def _before(text: str, start: int, width: int = 14) -> str:
    return text[max(0, start - width) : start]


def _phone_spans(text: str) -> list[tuple[int, int]]:
    if _PHONE_HINT.search(text) is None:
        return []
    spans = [(m.start(), m.end()) for m in _MOBILE.finditer(text)]
    # phonenumbers finds the forms our pattern may not (other separators, a leading 0086 …);
    # only mainland mobiles count: a landline is usually the shop's own hotline.
    for match in phonenumbers.PhoneNumberMatcher(text, "CN"):
        kind = phonenumbers.number_type(match.number)
        if match.number.country_code != 86 or kind not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            continue
        if not any(s < match.end and match.start < e for s, e in spans):
            spans.append((match.start, match.end))
    return sorted(s for s in spans if not _ORDER_CONTEXT.search(_before(text, s[0])))


# Every full address has a house or building number: only the text around one is parsed.
_ADDRESS_ANCHOR = re.compile(r"\d\s*(?:号|弄|栋|幢|座)")


def _address_spans(text: str) -> Iterable[tuple[int, int]]:
    seen_end = -1
    for anchor in _ADDRESS_ANCHOR.finditer(text):
        if anchor.start() < seen_end:
            continue
        lo = max(seen_end, anchor.start() - 40, 0)
        for m in _ADDRESS.finditer(text, lo, min(len(text), anchor.end() + 40)):
            if m.start() <= anchor.start() < m.end():
                seen_end = m.end()
                yield from _address_span(text, m)
                break


def _address_span(text: str, m: re.Match[str]) -> Iterable[tuple[int, int]]:
    if m.group("road") is not None:
        full = (
            bool(m.group("admin"))
            or re.search(_BUILDING, m.group("rest") or "")
            or _ADDRESS_CUE.search(_before(text, m.start(), 12))
        )
        if not full:
            return
    context = text[max(0, m.start() - 12) : min(len(text), m.end() + 14)]
    if _SHOP_ADDRESS.search(context):
        return
    # The lazy area names may start a few words early ("地址是深圳…"): underline the address.
    lead = _ADDRESS_LEAD.match(text, m.start(), m.start() + 6)
    yield (lead.end() if lead else m.start()), m.end()


_ADDRESS_LEAD = re.compile(r"[^，。：:\s]{0,4}?(?:地址(?:是|为)?|是|到|在)")


# ---------------------------------------------------------------------------------------------
# The lint


def _hits(rule: Rule, text: str, role: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, extra message) of every candidate hit of one rule, before exceptions."""
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
            groups = m.groupdict()
            if groups.get("na"):
                yield m.start(), m.end(), "（未写明金额）"
                continue
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
            before = _before(text, m.start())
            if _ORDER_CONTEXT.search(before) and not _ID_CONTEXT.search(before):
                continue
            number = m.group()
            if valid_id_card(number) or (
                _ID_CONTEXT.search(before) and number[:17].isdigit() and _id_date_ok(number)
            ):
                yield m.start(), m.end(), ""
    elif rule.kind == "bank_card":
        for m in _BANK_CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group())
            before = _before(text, m.start())
            if not 16 <= len(digits) <= 19 or valid_id_card(digits):
                continue
            if _CARD_CONTEXT.search(before) or (
                luhn_ok(digits) and not _ORDER_CONTEXT.search(before)
            ):
                yield m.start(), m.end(), ""
    elif rule.kind == "phone":
        for start, end in _phone_spans(text):
            yield start, end, ""
    elif rule.kind == "address":
        for start, end in _address_spans(text):
            yield start, end, ""


def _present(rule: Rule, text: str) -> bool:
    """Whether a required part occurs (stops at the first hit that no exception covers)."""
    assert rule._compiled is not None
    covered: list[tuple[int, int]] | None = None
    for m in rule._compiled.finditer(text):
        if rule._except is None:
            return True
        if covered is None:
            covered = [(e.start(), e.end()) for e in rule._except.finditer(text)]
        if not any(s < m.end() and m.start() < e for s, e in covered):
            return True
    return False


def _check(rule: Rule, text: str, role: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, extra message) of every finding of one rule."""
    if rule.kind == "required":
        if not _present(rule, text):
            yield 0, 0, ""
        return
    hits = list(_hits(rule, text, role))
    if rule._except is not None and hits:
        covered = [(m.start(), m.end()) for m in rule._except.finditer(text)]
        hits = [h for h in hits if not any(s < h[1] and h[0] < e for s, e in covered)]
    yield from hits


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
