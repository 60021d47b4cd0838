import json
from datetime import date
from pathlib import Path

import pytest

from xiaoer.nlp import Entity, extract_entities

TODAY = date(2026, 11, 23)  # a Monday
DATA = Path(__file__).parents[1] / "data"


def ents(text: str, **kw: object) -> list[tuple[str, str, str]]:
    return [(e.type, e.text, e.value) for e in extract_entities(text, today=TODAY, **kw)]


def test_letter_prefixed_order_number() -> None:
    assert ents("我的订单XE20261123583907到哪了？") == [
        ("order_no", "XE20261123583907", "XE20261123583907")
    ]


def test_full_width_order_number_spans_original_text() -> None:
    text = "订单ＸＥ２０２６１１２３５８３９０７在哪"
    (e,) = extract_entities(text, today=TODAY)
    assert e.type == "order_no"
    assert e.value == "XE20261123583907"
    assert text[e.start : e.end] == e.text == "ＸＥ２０２６１１２３５８３９０７"


def test_plain_digit_order_numbers() -> None:
    assert ents("订单号 123456789012345 退款") == [
        ("order_no", "123456789012345", "123456789012345")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "身份证号码110101199003071234可以吗",
        "银行卡6222021234567890123退款到这个卡",
        "我家门牌号是1502",
        "今年是2026年",
        "评分5分",
    ],
)
def test_numbers_that_are_not_orders(text: str) -> None:
    assert not [e for e in extract_entities(text, today=TODAY) if e.type == "order_no"]


def test_shop_order_pattern_overrides_default() -> None:
    text = "订单A1234567 和 123456789012345"
    found = ents(text, order_patterns=[r"a\d{7}"])
    assert [v for t, _, v in found if t == "order_no"] == ["A1234567"]
    found = ents("单号 AB-1234567890", order_patterns=[r"ab-?\d{10}"])
    assert ("order_no", "AB-1234567890", "AB1234567890") in found


@pytest.mark.parametrize(
    ("text", "number", "carrier"),
    [
        ("顺丰单号SF1426374859601", "SF1426374859601", "SF"),
        ("中通快递单号：75312345678901", "75312345678901", "ZTO"),
        ("圆通YT7712345678901到哪了", "YT7712345678901", "YTO"),
        ("韵达 4312345678901", "4312345678901", "YUNDA"),
        ("申通单号773098765432101", "773098765432101", "STO"),
        ("JDVA12345678901查不到", "JDVA12345678901", "JD"),
        ("EMS EA123456789CN", "EA123456789CN", "EMS"),
        ("运单号 1198765432109", "1198765432109", None),
    ],
)
def test_tracking_numbers_with_carrier(text: str, number: str, carrier: str | None) -> None:
    (e,) = [e for e in extract_entities(text, today=TODAY) if e.type == "tracking_no"]
    assert e.value == number
    assert e.meta["carrier"] == carrier


def test_order_and_tracking_in_one_message() -> None:
    found = ents("订单XE20261123583907的顺丰单号SF1426374859601不对")
    assert [t for t, _, _ in found] == ["order_no", "tracking_no"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("电话13812345678", "+8613812345678"),
        ("139 1234 5678", "+8613912345678"),
        ("186-0000-1234", "+8618600001234"),
        ("+86 15012345678", "+8615012345678"),
        ("１３８１２３４５６７８", "+8613812345678"),
        ("座机010-87654321", "+861087654321"),
    ],
)
def test_phones(text: str, value: str) -> None:
    assert [v for t, _, v in ents(text) if t == "phone"] == [value]


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("99元", "99", "CNY"),
        ("￥59.9", "59.9", "CNY"),
        ("¥ 1999", "1999", "CNY"),
        ("30块", "30", "CNY"),
        ("二十块", "20", "CNY"),
        ("3块5", "3.5", "CNY"),
        ("一百二十元", "120", "CNY"),
        ("it was $25", "25", "USD"),
    ],
)
def test_amounts(text: str, value: str, currency: str) -> None:
    (e,) = [e for e in extract_entities(text, today=TODAY) if e.type == "amount"]
    assert (e.value, e.meta["currency"]) == (value, currency)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("明天能发货吗", "2026-11-24"),
        ("后天", "2026-11-25"),
        ("下周一要用", "2026-11-30"),
        ("这周五", "2026-11-27"),
        ("3天后到吗", "2026-11-26"),
        ("三天后", "2026-11-26"),
        ("11月25日", "2026-11-25"),
        ("12月1号", "2026-12-01"),
        ("2026-12-03", "2026-12-03"),
        ("2026年12月12日", "2026-12-12"),
        ("tomorrow", "2026-11-24"),
    ],
)
def test_dates(text: str, value: str) -> None:
    assert [v for t, _, v in ents(text) if t == "date"] == [value]


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("要XL的", "XL", "letter"),
        ("M码有吗", "M", "letter"),
        ("XXL", "2XL", "letter"),
        ("38码的鞋", "38", "number"),
        ("身高170cm", "170cm", "height"),
        ("1米75", "175cm", "height"),
        ("体重60kg", "60kg", "weight"),
        ("120斤", "60kg", "weight"),
        ("均码吗", "均码", "free"),
    ],
)
def test_sizes(text: str, value: str, kind: str) -> None:
    (e,) = [e for e in extract_entities(text, today=TODAY) if e.type == "size"]
    assert (e.value, e.meta["kind"]) == (value, kind)


def test_lone_lower_case_letters_are_not_sizes() -> None:
    assert not [
        e for e in extract_entities("it's a small thing, i'm ok", today=TODAY) if e.type == "size"
    ]


def test_colors_and_quantities_mixed() -> None:
    found = ents("要两件XL的黑色，再来1条藏青色 and a navy one")
    assert ("quantity", "两件", "2") in found
    assert ("quantity", "1条", "1") in found
    assert ("color", "黑色", "黑色") in found
    assert ("color", "藏青色", "藏青色") in found
    assert ("color", "navy", "navy") in found


def test_ordinal_is_not_quantity() -> None:
    assert not [e for e in extract_entities("第2个问题", today=TODAY) if e.type == "quantity"]


def test_entity_is_frozen() -> None:
    e = Entity("color", 0, 2, "黑色", "黑色", {})
    with pytest.raises(AttributeError):
        e.value = "白色"  # type: ignore[misc]


def test_precision_recall_on_labelled_messages() -> None:
    rows = [json.loads(line) for line in (DATA / "entities_zh.jsonl").open(encoding="utf-8")]
    assert len(rows) >= 300
    tp = fp = fn = 0
    for row in rows:
        gold = {(e["type"], e["start"], e["end"]) for e in row["entities"]}
        pred = {(e.type, e.start, e.end) for e in extract_entities(row["text"], today=TODAY)}
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.97, precision
    assert recall >= 0.97, recall
