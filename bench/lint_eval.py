"""Compliance lint measured on labelled agent replies (issue 12 §2); prints one table per split.

    .venv/bin/python bench/lint_eval.py [--split dev,holdout,late] [--errors]

The corpora are `bench/data/lint_dev.jsonl` (the rules were tuned on it),
`bench/data/lint_holdout.jsonl` (written at the same time, never used for tuning) and
`bench/data/lint_late.jsonl` (written in four rounds after the rules, each labelled before its
first run; the rules were then fixed on it, so it now counts as tuning data). Each line is
one reply: `text`, the context the lint gets (`category`, `angry`, `role`), the `family` it was
written to exercise, and `expect`, the rule ids that must fire (an empty list: nothing may fire).

Per rule: precision and recall of "this rule fires on the reply" against `expect`. Overall: the
reply is blocked (some finding has severity block) against "some expected rule is a blocking
rule" — the product owner's target on a hidden set is block precision >= 0.95 and
recall >= 0.90. `--errors` lists every reply where the rules that fired differ from `expect`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from xiaoer.knowledge.compliance import DEFAULT_RULES, lint

DATA = Path(__file__).resolve().parent / "data"
SEVERITY = {rule.id: rule.severity for rule in DEFAULT_RULES}

# Where each rule comes from (also in docs/subsystems/script-library.md).
SOURCES = {
    "absolute_promise": "广告法 art. 9(3), art. 28; SAMR 绝对化用语执法指南",
    "misleading_claim": "广告法 art. 9(3); SAMR 绝对化用语执法指南",
    "unauthorised_compensation": "shop compensation limits per role (seeds)",
    "personal_data_phone": "PIPL art. 10, 51 (personal information)",
    "personal_data_address": "PIPL art. 10, 51 (personal information)",
    "personal_data_id_card": "PIPL art. 28 (sensitive: identity)",
    "personal_data_bank_card": "PIPL art. 28 (sensitive: financial account)",
    "angry_banned_phrase": "seeds' angry-customer phrase list",
    "complaint_missing_remedy": "seeds' complaint answer structure",
    "complaint_missing_next_step": "seeds' complaint answer structure",
    "vague_commitment": "seeds' vague-wording list (every category)",
    "after_sale_missing_time": "seeds' after-sale answer structure",
}


def load(split: str) -> list[dict[str, Any]]:
    path = DATA / f"lint_{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def fired(row: dict[str, Any]) -> tuple[set[str], bool]:
    result = lint(row["text"], category=row["category"], angry=row["angry"], role=row["role"])
    return {f.rule for f in result.findings}, result.blocked


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def evaluate(rows: list[dict[str, Any]], show_errors: bool) -> dict[str, float]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    block = Counter[str]()
    errors = []
    for row in rows:
        got, blocked = fired(row)
        want = set(row["expect"])
        for rule in got | want:
            if rule in got and rule in want:
                tp[rule] += 1
            elif rule in got:
                fp[rule] += 1
            else:
                fn[rule] += 1
        should_block = any(SEVERITY.get(r) == "block" for r in want)
        block[("t" if blocked == should_block else "f") + ("p" if blocked else "n")] += 1
        if got != want:
            errors.append((row, got))
    print(f"{'rule':30} {'sev':5} {'n':>4} {'prec':>6} {'recall':>6}  source")
    for rule in SOURCES:
        n = tp[rule] + fn[rule]
        print(
            f"{rule:30} {SEVERITY.get(rule, '?'):5} {n:4d} "
            f"{ratio(tp[rule], tp[rule] + fp[rule]):>6} {ratio(tp[rule], n):>6}  {SOURCES[rule]}"
        )
    precision = block["tp"] / max(1, block["tp"] + block["fp"])
    recall = block["tp"] / max(1, block["tp"] + block["fn"])
    exact = sum(1 for row in rows if fired(row)[0] == set(row["expect"]))
    print(
        f"{'BLOCK (reply level)':30} {'':5} {block['tp'] + block['fn']:4d} "
        f"{precision:6.3f} {recall:6.3f}  replies {len(rows)}, not blocked "
        f"{block['tn'] + block['fn']}, rules exactly as labelled {exact / len(rows):.3f}"
    )
    if show_errors:
        for row, got in errors:
            print(
                f"  {row['id']} [{row['category']}, angry={row['angry']}, {row['role']}] "
                f"want {sorted(row['expect'])} got {sorted(got)}: {row['text']}"
            )
    return {"precision": precision, "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split", default="dev,holdout,late", help="comma-separated: dev,holdout,late"
    )
    parser.add_argument("--errors", action="store_true", help="list the mislabelled replies")
    args = parser.parse_args()
    ok = True
    for split in [s.strip() for s in args.split.split(",") if s.strip()]:
        rows = load(split)
        print(f"\n== {split}: {len(rows)} replies ==")
        figures = evaluate(rows, args.errors)
        ok = ok and figures["precision"] >= 0.95 and figures["recall"] >= 0.90
    print("\ntarget block precision >= 0.95 and recall >= 0.90:", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
