"""The compliance lint on the labelled corpus of agent replies (issue 12 §2, §6).

Each rule family's replies in `bench/data/lint_dev.jsonl` and `lint_late.jsonl` (both used to
tune the rules) must fire exactly the labelled rules
(one failing reply fails its family's test, and the message lists every failure). The held-out
replies (`lint_holdout.jsonl`, never used to tune the rules) are checked against the product
owner's targets as a whole. `bench/lint_eval.py` prints the same figures per rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xiaoer.demo.scripts import DEMO_SCRIPTS
from xiaoer.knowledge import rules as shop_rules
from xiaoer.knowledge.categories import category_kind
from xiaoer.knowledge.compliance import DEFAULT_RULES, lint

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
SEVERITY = {rule.id: rule.severity for rule in DEFAULT_RULES}
FAMILIES = (
    "claims",
    "compensation",
    "personal_data",
    "angry_customer",
    "complaint_structure",
    "vague_wording",
    "mixed",
)


def load(split: str) -> list[dict[str, Any]]:
    text = (DATA / f"lint_{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def fired(row: dict[str, Any]) -> set[str]:
    result = lint(row["text"], category=row["category"], angry=row["angry"], role=row["role"])
    return {f.rule for f in result.findings}


def test_corpus_is_large_balanced_and_sourced():
    rows = load("dev") + load("holdout") + load("late")
    assert len(rows) >= 400
    # The same text appears only with another context (an agent's and a supervisor's limit).
    assert len({(r["text"], r["role"], r["category"], r["angry"]) for r in rows}) == len(rows)
    blocking = sum(any(SEVERITY[e] == "block" for e in r["expect"]) for r in rows)
    assert 0.4 <= blocking / len(rows) <= 0.6
    for row in rows:
        assert row["family"] in FAMILIES
        assert row["category"] in (None, "consultation", "after_sale", "complaint")
        assert set(row["expect"]) <= set(SEVERITY)
        assert set(row["sources"]) == set(row["expect"])
    # Every rule is exercised by the corpus.
    assert {e for r in rows for e in r["expect"]} == set(SEVERITY)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_reply_of_the_family_fires_exactly_its_labelled_rules(family):
    rows = [r for r in load("dev") + load("late") if r["family"] == family]
    assert len(rows) >= 20
    failures = [
        f"{r['id']} want {sorted(r['expect'])} got {sorted(got)}: {r['text']}"
        for r in rows
        if (got := fired(r)) != set(r["expect"])
    ]
    assert failures == []


def test_held_out_replies_meet_the_block_targets():
    rows = load("holdout")
    tp = fp = fn = 0
    for row in rows:
        blocked = lint(
            row["text"], category=row["category"], angry=row["angry"], role=row["role"]
        ).blocked
        should = any(SEVERITY[e] == "block" for e in row["expect"])
        tp += blocked and should
        fp += blocked and not should
        fn += should and not blocked
    assert tp / (tp + fp) >= 0.95
    assert tp / (tp + fn) >= 0.90


def test_demo_answers_pass_with_the_demo_shops_rules():
    demo_rules = shop_rules.build_rules({"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}})
    for script in DEMO_SCRIPTS:
        kind = category_kind(script.category)
        for body in (script.answer, *script.answers.values()):
            result = lint(body, category=kind, rules=demo_rules)
            assert not result.blocked, (script.title, body, result.findings)


def test_seeded_complaint_answers_pass_the_default_rules():
    complaints = [s for s in DEMO_SCRIPTS if category_kind(s.category) == "complaint"]
    assert len(complaints) >= 10
    for script in complaints:
        for body in (script.answer, *script.answers.values()):
            result = lint(body, category="complaint", angry=True)
            assert result.findings == [] or not result.blocked, (script.title, result.findings)


@pytest.mark.parametrize(
    "text",
    [
        "非常抱歉，为您全额退款，款项24小时内原路退回",
        "品控部门3个工作日内书面回复，先给您补偿10元无门槛券",
        "明天中午前补发并告知单号，实在抱歉",
        "店长今晚会给您回电，已为您办理退款",
    ],
)
def test_issue_examples_of_good_complaint_answers_pass(text):
    assert lint(text, category="complaint", angry=True).findings == []


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("不支持退款，24小时内给您回复", "complaint_missing_remedy"),
        ("为您退款，稍后联系您", "complaint_missing_next_step"),
        ("为您补发，我们尽快处理", "complaint_missing_next_step"),
        ("为您换货，后续有同事跟进", "complaint_missing_next_step"),
        ("为您退差价，有结果了会通知您", "complaint_missing_next_step"),
    ],
)
def test_refused_remedies_and_vague_steps_do_not_count(text, missing):
    assert missing in {f.rule for f in lint(text, category="complaint").findings}


def test_a_shops_allowed_wording_is_not_flagged_and_old_settings_still_load():
    text = "本店正品保障，假一赔十"
    assert lint(text).blocked
    allowed = shop_rules.build_rules({"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}})
    assert lint(text, rules=allowed).findings == []
    # Other absolute wording is still caught for that shop.
    assert lint("假一赔十，我保证明天送到", rules=allowed).blocked
    # Settings stored before allowed phrases existed load and validate unchanged.
    old = {"rules": {"misleading_claim": {"severity": "warn", "phrases": ["宇宙第一"]}}}
    assert shop_rules.clean_settings(old) == old
    old_rules = {r.id: r for r in shop_rules.build_rules(old)}
    assert old_rules["misleading_claim"].severity == "warn"
    assert old_rules["misleading_claim"].allowed == ()
    cleaned = shop_rules.clean_settings(
        {"rules": {"absolute_promise": {"allowed": "假一赔十\n假一赔十\n"}}}
    )
    assert cleaned == {"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}}
    described = {r["id"]: r for r in shop_rules.describe(cleaned)["rules"]}
    assert described["absolute_promise"]["allowed_phrases"] == ["假一赔十"]
    assert described["complaint_missing_remedy"]["accepts_allowed"] is False
