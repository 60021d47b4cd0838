"""Compliance lint (issue 3 §2): every default rule hits what it should, spares what it should,
and reports the span of the offending text."""

from __future__ import annotations

import pytest

from xiaoer.knowledge.compliance import (
    DEFAULT_RULES,
    Rule,
    amount_cents,
    lint,
    luhn_ok,
    valid_id_card,
)

VALID_ID = "11010519491231002X"
VALID_CARD = "6222021234567894"


def hits(text: str, **kw) -> list[tuple[str, str, str]]:
    """(rule, severity, spanned text) of every finding."""
    return [(f.rule, f.severity, text[f.start : f.end]) for f in lint(text, **kw).findings]


def rules_of(text: str, **kw) -> set[str]:
    return {f.rule for f in lint(text, **kw).findings}


@pytest.mark.parametrize("phrase", ["保证质量", "绝对", "百分之百", "一定不会"])
def test_absolute_promise_blocks_with_its_span(phrase):
    text = f"亲，这款{phrase}没问题的"
    result = lint(text)
    assert result.blocked
    assert hits(text) == [("absolute_promise", "block", phrase)]
    assert result.findings[0].start == 4
    assert result.findings[0].suggestion


@pytest.mark.parametrize("phrase", ["全网最低价", "最便宜", "国家级"])
def test_misleading_claim_blocks(phrase):
    text = f"我们是{phrase}哦"
    assert hits(text) == [("misleading_claim", "block", phrase)]
    assert lint(text).blocked


def test_longest_phrase_wins_where_phrases_overlap():
    assert hits("全网最低价") == [("misleading_claim", "block", "全网最低价")]
    assert hits("我也没办法", angry=True) == [("angry_banned_phrase", "block", "我也没办法")]


def test_clean_consultation_answer_has_no_findings():
    result = lint("亲，这款外套是纯棉面料，建议按平时尺码购买，下单后48小时内发货。")
    assert result.blocked is False
    assert result.findings == []


@pytest.mark.parametrize("category", [None, "consultation", "after_sale", "complaint"])
def test_vague_commitments_warn_in_every_category(category):
    text = "您的退款可能48小时内到账，大概明天就到了，我们尽快处理"
    found = [h for h in hits(text, category=category) if h[0] == "vague_commitment"]
    assert found == [
        ("vague_commitment", "warn", "可能"),
        ("vague_commitment", "warn", "大概"),
        ("vague_commitment", "warn", "尽快"),
    ]
    if category != "complaint":
        assert lint(text, category=category).blocked is False


def test_hedges_outside_a_commitment_and_negations_do_not_warn():
    for text in (
        "这不可能是二手的，都是全新未拆封",
        "不同显示器可能会有一点点色差",
        "大概的尺寸是长30宽20高10厘米",
        "这是我们应该做的",
        "您可以稍后再刷新一下页面试试",
    ):
        assert hits(text) == [], text


def test_after_sale_answer_without_concrete_time_warns_at_zero_span():
    result = lint("已为您登记退货，仓库收到后处理。", category="after_sale")
    assert [(f.rule, f.severity, f.start, f.end) for f in result.findings] == [
        ("after_sale_missing_time", "warn", 0, 0)
    ]
    assert result.blocked is False


@pytest.mark.parametrize(
    "when", ["48小时内", "1个工作日内", "24小时", "3天内", "两个工作日", "今天18点前"]
)
def test_after_sale_answer_with_concrete_time_passes(when):
    assert rules_of(f"已为您登记退货，{when}为您处理。", category="after_sale") == set()


def test_complaint_needs_remedy_and_next_step():
    bare = lint("非常抱歉给您带来不好的体验。", category="complaint")
    assert bare.blocked
    assert [(f.rule, f.start, f.end) for f in bare.findings] == [
        ("complaint_missing_remedy", 0, 0),
        ("complaint_missing_next_step", 0, 0),
    ]
    no_step = "非常抱歉，为您全额退款。"
    assert rules_of(no_step, category="complaint") == {"complaint_missing_next_step"}
    no_remedy = "非常抱歉，我会跟进这件事。"
    assert rules_of(no_remedy, category="complaint") == {"complaint_missing_remedy"}
    good = "非常抱歉，为您全额退款并补偿10元优惠券，我会在今天下班前电话跟进进度。"
    assert lint(good, category="complaint").findings == []
    # The required parts only apply to complaint answers.
    assert rules_of("非常抱歉给您带来不好的体验。") == set()


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("给您补偿100元", "补偿100元"),
        ("赔您200元", "赔您200元"),
        ("补偿您¥80", "补偿您¥80"),
        ("送您60元优惠券", "送您60元"),
        ("给您¥88红包", "¥88红包"),
        ("为您补偿一百元", "补偿一百元"),
    ],
)
def test_compensation_above_agent_limit_blocks(text, amount):
    result = lint(text)
    assert result.blocked
    assert hits(text) == [("unauthorised_compensation", "block", amount)]


def test_compensation_within_limit_or_by_supervisor_passes():
    assert hits("给您补偿50元") == []
    assert hits("给您补偿30元，送您¥20红包") == []
    assert hits("赔您200元", role="supervisor") == []
    assert lint("赔您200元", role="supervisor").blocked is False
    assert hits("赔您300元", role="supervisor") == [
        ("unauthorised_compensation", "block", "赔您300元")
    ]
    # A price is not a compensation.
    assert hits("这款外套售价299元") == []


def test_compensation_message_names_amount_and_limit():
    (finding,) = lint("赔您200元").findings
    assert "200" in finding.message
    assert "50" in finding.message


def test_amounts_parse_digits_decimals_and_chinese_numerals():
    assert amount_cents("50") == 5000
    assert amount_cents("12.5") == 1250
    assert amount_cents("三十") == 3000
    assert amount_cents("两百") == 20000
    assert amount_cents("五十五") == 5500


def test_id_card_with_valid_checksum_blocks():
    text = f"您的身份证 {VALID_ID} 已登记"
    assert hits(text) == [("personal_data_id_card", "block", VALID_ID)]
    assert lint(text).findings[0].start == 6


def test_id_card_checksum_and_date_negatives():
    assert valid_id_card(VALID_ID)
    assert valid_id_card(VALID_ID.lower())
    wrong_check = VALID_ID[:-1] + "1"
    assert not valid_id_card(wrong_check)
    assert hits(f"号码 {wrong_check}") == []
    bad_date = "110105194913310021"  # month 13
    assert not valid_id_card(bad_date)
    # Part of a longer number is not an ID card.
    assert rules_of(f"9{VALID_ID}") == set()


def test_bank_card_with_luhn_blocks_plain_and_grouped():
    assert hits(f"卡号{VALID_CARD}") == [("personal_data_bank_card", "block", VALID_CARD)]
    grouped = "6222 0212 3456 7894"
    assert hits(f"卡号：{grouped}。") == [("personal_data_bank_card", "block", grouped)]


def test_bank_card_luhn_negatives():
    assert luhn_ok(VALID_CARD)
    wrong = VALID_CARD[:-1] + "5"
    assert not luhn_ok(wrong)
    assert hits(f"号码{wrong}") == []
    # Right after 卡号 a number is a card even with a typo in it.
    assert rules_of(f"卡号{wrong}") == {"personal_data_bank_card"}
    # Short numbers (an order number of 12 digits) are not cards.
    assert hits("订单号 622202123456") == []


def test_id_card_is_not_also_reported_as_bank_card():
    assert rules_of(f"身份证{VALID_ID[:-1]}X") <= {"personal_data_id_card"}


@pytest.mark.parametrize("phrase", ["请您理解", "这是规定", "我也没办法"])
def test_phrases_banned_for_angry_customer_block_only_when_angry(phrase):
    text = f"{phrase}，我们会处理。"
    assert hits(text, angry=True) == [("angry_banned_phrase", "block", phrase)]
    assert lint(text, angry=True).blocked
    assert hits(text) == []
    assert lint(text).blocked is False


def test_spans_are_character_offsets_into_the_original_text():
    text = "😀 亲，我们绝对是全网最低价，赔您200元"
    for f in lint(text).findings:
        assert text[f.start : f.end] in {"绝对", "全网最低价", "赔您200元"}
    starts = [f.start for f in lint(text).findings]
    assert starts == sorted(starts)


def test_unknown_category_or_role_is_refused():
    with pytest.raises(ValueError, match="category"):
        lint("x", category="refund")
    with pytest.raises(ValueError, match="role"):
        lint("x", role="boss")


def test_custom_rule_set_replaces_the_defaults():
    rules = (
        Rule(
            id="no_competitor",
            kind="phrases",
            severity="warn",
            phrases=("某宝",),
            message="不要提及竞品",
            suggestion="删除",
        ),
        Rule(
            id="no_ticket_no",
            kind="regex",
            severity="block",
            patterns=(r"TK\d{6}",),
            roles=frozenset({"agent"}),
            message="m",
            suggestion="s",
        ),
    )
    text = "某宝更贵，绝对的，工单TK123456"
    assert hits(text, rules=rules) == [
        ("no_competitor", "warn", "某宝"),
        ("no_ticket_no", "block", "TK123456"),
    ]
    assert hits(text, rules=rules, role="supervisor") == [("no_competitor", "warn", "某宝")]


def test_every_default_rule_has_chinese_message_and_suggestion():
    ids = [r.id for r in DEFAULT_RULES]
    assert len(ids) == len(set(ids))
    for rule in DEFAULT_RULES:
        assert rule.message
        assert rule.suggestion
        assert rule.severity in {"block", "warn"}


def test_gated_patterns_find_exactly_what_the_plain_patterns_find():
    import json
    import re
    from pathlib import Path

    from xiaoer.knowledge.compliance import _compile_gated

    corpus = Path(__file__).resolve().parents[2] / "bench" / "data" / "lint_dev.jsonl"
    texts = [json.loads(line)["text"] for line in corpus.read_text("utf-8").splitlines()]
    gated = 0
    for rule in DEFAULT_RULES:
        for compiled in (rule._compiled, rule._except):
            if compiled is None:
                continue
            source = compiled.pattern
            plain = source[source.index("(?:") + 3 : -1] if source.startswith("(?=[") else source
            gated += source.startswith("(?=[")
            fast = _compile_gated(plain)
            slow = re.compile(plain)
            for text in texts:
                assert [m.span() for m in fast.finditer(text)] == [
                    m.span() for m in slow.finditer(text)
                ]
    assert gated >= 6
