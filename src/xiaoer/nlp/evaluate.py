"""Evaluation of each task, shared by the CLI and `bench/nlp_eval.py`.

Latency is measured per message (one call per text, as the bot calls the engine), in
milliseconds; the metric dictionaries are exactly what the CLI prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
from sklearn.metrics import f1_score

from xiaoer.nlp.classify import TextClassifier
from xiaoer.nlp.matching import ScriptMatcher
from xiaoer.nlp.pairs import PairScorer

T = TypeVar("T")
R = TypeVar("R")
Tick = Callable[[], None]


def timed_map(
    fn: Callable[[T], R], items: Iterable[T], tick: Tick | None = None
) -> tuple[list[R], list[float]]:
    """Apply `fn` to each item, recording the milliseconds of every call.

    The first item is also run once untimed, so one-off loading (jieba's dictionary, lazy caches)
    is not reported as message latency.
    """
    out: list[R] = []
    ms: list[float] = []
    seq = list(items)
    if seq:
        fn(seq[0])
    for item in seq:
        t0 = time.perf_counter()
        out.append(fn(item))
        ms.append((time.perf_counter() - t0) * 1000.0)
        if tick:
            tick()
    return out, ms


def latency(ms: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(ms) if len(ms) else np.zeros(1)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
    }


def eval_intent(
    model: TextClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    oos_label: str | None = None,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1; with `oos_label`, declined predictions count as that label."""

    def predict(text: str) -> str:
        p = model.predict(text)
        if oos_label is not None and not p.in_scope:
            return oos_label
        return p.label

    preds, ms = timed_map(predict, texts, tick)
    y = np.asarray(labels)
    p = np.asarray(preds)
    out: dict[str, Any] = {
        "n": len(y),
        "accuracy": round(float((p == y).mean()), 4),
        "macro_f1": round(float(f1_score(y, p, average="macro", zero_division=0)), 4),
    }
    if oos_label is not None:
        is_oos = y == oos_label
        out["oos_recall"] = (
            round(float((p[is_oos] == oos_label).mean()), 4) if is_oos.any() else None
        )
        out["in_scope_accuracy"] = (
            round(float((p[~is_oos] == y[~is_oos]).mean()), 4) if (~is_oos).any() else None
        )
    return out | latency(ms)


def eval_pairs(
    model: PairScorer,
    a: Sequence[str],
    b: Sequence[str],
    labels: Sequence[int],
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Accuracy and F1 of the "same question" class at the model's tuned threshold."""
    probs, ms = timed_map(
        lambda ab: float(model.predict_proba([ab[0]], [ab[1]])[0]),
        list(zip(a, b, strict=True)),
        tick,
    )
    pred = np.asarray(probs) >= model.threshold
    y = np.asarray(labels) == 1
    tp = float((pred & y).sum())
    f1 = 2 * tp / max(float(pred.sum() + y.sum()), 1.0)
    return {
        "n": len(y),
        "accuracy": round(float((pred == y).mean()), 4),
        "f1": round(f1, 4),
    } | latency(ms)


def eval_retrieval(
    matcher: ScriptMatcher,
    texts: Sequence[str],
    gold: Sequence[str],
    *,
    threshold: float | None = None,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Ranking metrics over answerable queries; answer rate and precision over all queries.

    A query is answered when the top confidence reaches the threshold (the matcher's own unless
    given); answering a query whose `script_id` is empty counts as a wrong answer.
    """
    thr = matcher.threshold if threshold is None else threshold
    results, ms = timed_map(lambda t: matcher.search(t, k=3), texts, tick)
    n = len(texts)
    hits1 = hits3 = 0
    rr = 0.0
    answerable = answered = correct = 0
    for res, g in zip(results, gold, strict=True):
        ids = [m.script_id for m in res]
        if g:
            answerable += 1
            hits1 += bool(ids[:1] == [g])
            hits3 += g in ids[:3]
            rr += 1.0 / (ids.index(g) + 1) if g in ids else 0.0
        if res and res[0].confidence >= thr:
            answered += 1
            correct += bool(g) and res[0].script_id == g
    denom = max(answerable, 1)
    return {
        "n": n,
        "top1": round(hits1 / denom, 4),
        "top3": round(hits3 / denom, 4),
        "mrr": round(rr / denom, 4),
        "answer_rate": round(answered / max(n, 1), 4),
        "precision_when_answered": round(correct / answered, 4) if answered else None,
    } | latency(ms)


def eval_emotion(
    model: TextClassifier, texts: Sequence[str], labels: Sequence[str], tick: Tick | None = None
) -> dict[str, Any]:
    """Accuracy and macro-F1 of the trained polarity model (argmax, no declining)."""
    preds, ms = timed_map(lambda t: model.predict(t).label, texts, tick)
    y = np.asarray(labels)
    p = np.asarray(preds)
    return {
        "n": len(y),
        "accuracy": round(float((p == y).mean()), 4),
        "macro_f1": round(float(f1_score(y, p, average="macro", zero_division=0)), 4),
    } | latency(ms)
