"""Recommended answer structure per category kind, and the typed variables (issue 3 §1)."""

from __future__ import annotations

import pytest

from xiaoer.commerce.service import CUSTOMER_VARIABLES, ORDER_VARIABLES
from xiaoer.knowledge import service, structure, variables


def parts(text: str, kind: str | None) -> dict[str, bool]:
    return {p.part: p.present for p in structure.analyse(text, kind)}


def test_parts_per_kind():
    assert list(parts("", "consultation")) == ["information", "guiding_action"]
    assert list(parts("", "after_sale")) == ["responsibility", "solution", "time_promise"]
    assert list(parts("", "complaint")) == ["acknowledgement", "compensation", "next_step"]
    assert structure.analyse("随便什么", None) == []
    assert structure.analyse_category("亲，抱歉", "投诉/物流")[0].present


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        (
            "亲，您的订单 {order_no} 已由 {carrier} 发出，您可以点击订单详情查看物流~",
            "consultation",
            {"information": True, "guiding_action": True},
        ),
        ("亲，好的呢", "consultation", {"information": False, "guiding_action": False}),
        ("本店支持开具电子发票", "consultation", {"information": True, "guiding_action": False}),
        (
            "很抱歉给您带来不便，运费由我们承担，我们会为您补发，48小时内发出。",
            "after_sale",
            {"responsibility": True, "solution": True, "time_promise": True},
        ),
        (
            "请您耐心等待",
            "after_sale",
            {"responsibility": False, "solution": False, "time_promise": False},
        ),
        (
            "我们会为您退款，1个工作日内到账",
            "after_sale",
            {"responsibility": False, "solution": True, "time_promise": True},
        ),
        (
            "非常理解您的心情，为您补偿10元优惠券，稍后专员会联系您跟进进度。",
            "complaint",
            {"acknowledgement": True, "compensation": True, "next_step": True},
        ),
        (
            "这是规定",
            "complaint",
            {"acknowledgement": False, "compensation": False, "next_step": False},
        ),
        (
            "对不起，我们马上处理",
            "complaint",
            {"acknowledgement": True, "compensation": False, "next_step": True},
        ),
    ],
)
def test_cues_detect_present_and_missing_parts(text, kind, expected):
    assert parts(text, kind) == expected


def test_spans_point_at_the_cue():
    text = "亲亲，理解您的心情"
    ack = structure.find_part("acknowledgement", text)
    assert ack.present
    assert text[ack.start : ack.end] in ("理解您的心情", "理解您")
    assert structure.missing(text, "complaint") == ["compensation", "next_step"]


def test_every_fillable_variable_is_typed_and_nothing_else_is_known():
    assert set(variables.KNOWN_VARIABLES) == set(ORDER_VARIABLES) | set(CUSTOMER_VARIABLES)
    assert service.KNOWN_VARIABLES == variables.KNOWN_VARIABLES
    types = {v.name: v.type for v in variables.VARIABLES}
    assert types["amount"] == "money"
    assert types["eta"] == "date"
    assert types["refund_status"] == "enum"
    assert all(v.label and v.example for v in variables.VARIABLES)
    assert variables.unknown(["order_no", "coupon_code", "customer_name"]) == ["coupon_code"]
    with pytest.raises(service.UnknownVariable) as bad:
        service.clean_answer("您的券 {coupon_code} 和订单 {order_no}")
    assert bad.value.names == ["coupon_code"]
