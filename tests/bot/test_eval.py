"""Answer quality on held-out customer messages (tests/data/bot_eval.csv): messages written the
way customers type, none copied from the seeded question variants. An empty expected title means
the bot must not answer (hand off, or ask to rephrase)."""

from __future__ import annotations

import csv
from pathlib import Path

from xiaoer.bot import service as bot
from xiaoer.demo.scripts import DEMO_SCRIPTS

EVAL_FILE = Path(__file__).parents[1] / "data" / "bot_eval.csv"


def load_eval() -> list[tuple[str, str]]:
    with EVAL_FILE.open(encoding="utf-8") as f:
        return [(r["text"], r["expected_title"]) for r in csv.DictReader(f)]


def test_eval_set_is_held_out_and_names_real_scripts():
    rows = load_eval()
    variants = {q for s in DEMO_SCRIPTS for q in s.questions}
    titles = {s.title for s in DEMO_SCRIPTS}
    assert len(rows) >= 60
    assert not {t for t, _ in rows} & variants
    assert {e for _, e in rows if e} <= titles


def test_bot_answers_held_out_messages_precisely(demo_shop, registry, in_session):
    rows = load_eval()

    async def work(session):
        out = []
        for message, _ in rows:
            result = await bot.decide(
                session, registry=registry, shop_id=demo_shop.shop_id, text=message
            )
            answered = result.script_id is not None and not result.handoff
            out.append(result.script_title if answered else None)
        return out

    got = in_session(work)
    answerable = [(g, e) for g, (_, e) in zip(got, rows, strict=True) if e]
    unanswerable = [g for g, (_, e) in zip(got, rows, strict=True) if not e]
    answered = [(g, e) for g, (_, e) in zip(got, rows, strict=True) if g]
    correct = sum(1 for g, e in answered if g == e)
    precision = correct / len(answered)
    coverage = correct / len(answerable)
    declined = sum(1 for g in unanswerable if g is None) / len(unanswerable)
    wrong = [(m, e, g) for g, (m, e) in zip(got, rows, strict=True) if g and g != e]
    print(
        f"\nbot eval: {len(rows)} messages, answered {len(answered)}, correct {correct}, "
        f"precision {precision:.2f}, coverage {coverage:.2f}, declined {declined:.2f}; "
        f"wrong: {wrong}"
    )
    assert precision >= 0.90, wrong
    assert coverage >= 0.80
    assert declined >= 0.85
