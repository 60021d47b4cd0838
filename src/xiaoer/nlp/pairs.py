"""Pair scorer: are two customer questions the same question?

Shallow similarity (cosines, overlap) alone cannot separate "花呗怎么还款" from "花呗怎么开通":
the pairs share almost everything. The model therefore also sees *what* is shared and *what*
differs: the element-wise product and absolute difference of the two texts' TF-IDF vectors
(char 1–3 + words), and a bag of the words present in only one text. A logistic regression on
those sparse features plus dense similarity features gives a probability; the decision threshold
is tuned on a separate dev set only (accuracy first, F1 as the tie-breaker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from rapidfuzz.distance import Levenshtein
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from xiaoer.nlp.text import normalize, tokenize

Progress = Callable[[str, float], None]


def _diff_analyzer(pair_text: str) -> list[str]:
    a, b = pair_text.split("\x1f", 1)
    ta, tb = set(tokenize(a)), set(tokenize(b))
    only = sorted(ta ^ tb)
    shared = sorted(ta & tb)
    return [f"d:{w}" for w in only] + [f"s:{w}" for w in shared]


def _char_diff_analyzer(pair_text: str) -> list[str]:
    """Char uni/bigrams present in only one of the two texts ("开通" vs "还款")."""
    a, b = pair_text.split("\x1f", 1)
    ga = {a[i : i + n] for n in (1, 2) for i in range(len(a) - n + 1)}
    gb = {b[i : i + n] for n in (1, 2) for i in range(len(b) - n + 1)}
    return [f"c:{g}" for g in sorted(ga ^ gb)]


def _cross_analyzer(pair_text: str) -> list[str]:
    """Pairs (word only in A, word only in B): which substitutions keep or change the meaning."""
    a, b = pair_text.split("\x1f", 1)
    ta, tb = set(tokenize(a)), set(tokenize(b))
    only_a, only_b = sorted(ta - tb), sorted(tb - ta)
    if not only_a and not only_b:
        return ["x:none"]
    return ["x:" + "|".join(sorted((u, v))) for u in only_a for v in only_b]


def _words(text: str) -> list[str]:
    return tokenize(text)


class PairScorer:
    """P(same question) for a pair of texts; `threshold` turns it into a yes/no."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C
        self.threshold = 0.5
        self.chars = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, dtype=np.float32
        )
        self.words = TfidfVectorizer(analyzer=_words, sublinear_tf=True, min_df=2, dtype=np.float32)
        self.diff = TfidfVectorizer(analyzer=_diff_analyzer, min_df=2, dtype=np.float32)
        self.char_diff = TfidfVectorizer(analyzer=_char_diff_analyzer, min_df=2, dtype=np.float32)
        self.cross = TfidfVectorizer(analyzer=_cross_analyzer, min_df=2, dtype=np.float32)
        self.model: LogisticRegression | None = None
        self.dev_metrics: dict[str, float] = {}

    def _features(self, a: Sequence[str], b: Sequence[str], fit: bool = False) -> sp.csr_matrix:
        na = [normalize(t) for t in a]
        nb = [normalize(t) for t in b]
        pairs = [f"{x}\x1f{y}" for x, y in zip(na, nb, strict=True)]
        if fit:
            self.chars.fit(na + nb)
            self.words.fit(na + nb)
            self.diff.fit(pairs)
            self.char_diff.fit(pairs)
            self.cross.fit(pairs)
        blocks = []
        dense = []
        for vec in (self.chars, self.words):
            va, vb = vec.transform(na), vec.transform(nb)
            prod = va.multiply(vb).tocsr()
            diff = abs(va - vb).tocsr()
            blocks += [prod, diff]
            dense.append(np.asarray(prod.sum(axis=1)).ravel())  # cosine (rows are L2-normalised)
        blocks.append(self.diff.transform(pairs))
        blocks.append(self.char_diff.transform(pairs))
        blocks.append(self.cross.transform(pairs))
        la = np.array([len(x) for x in na], dtype=np.float32)
        lb = np.array([len(x) for x in nb], dtype=np.float32)
        edit = np.array(
            [Levenshtein.normalized_similarity(x, y) for x, y in zip(na, nb, strict=True)],
            dtype=np.float32,
        )
        dense += [edit, np.abs(la - lb) / np.maximum(la + lb, 1), np.minimum(la, lb) / 50.0]
        blocks.append(sp.csr_matrix(np.stack(dense, axis=1)))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def fit(
        self,
        a: Sequence[str],
        b: Sequence[str],
        y: Sequence[int],
        *,
        dev: tuple[Sequence[str], Sequence[str], Sequence[int]] | None = None,
        progress: Progress | None = None,
    ) -> PairScorer:
        """Train on pairs; with `dev`, tune `threshold` there (see `tune_threshold`)."""
        if progress:
            progress("features", 0.1)
        X = self._features(a, b, fit=True)
        if progress:
            progress("training", 0.5)
        self.model = LogisticRegression(C=self.C, max_iter=2000).fit(X, np.asarray(y))
        if dev is not None:
            if progress:
                progress("tuning threshold on dev", 0.9)
            p = self.predict_proba(dev[0], dev[1])
            self.threshold, self.dev_metrics = tune_threshold(p, np.asarray(dev[2]))
        return self

    def predict_proba(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        assert self.model is not None, "fit first"
        out: np.ndarray = self.model.predict_proba(self._features(a, b))[:, 1]
        return out

    def same(self, a: str, b: str) -> bool:
        return bool(self.predict_proba([a], [b])[0] >= self.threshold)


def tune_threshold(
    p: np.ndarray, y: np.ndarray, tolerance: float = 0.005
) -> tuple[float, dict[str, float]]:
    """Accuracy first: among thresholds within `tolerance` of the best dev accuracy (differences
    that small are noise), the one with the best F1 of the "same question" class."""
    stats = []
    for t in np.unique(np.round(p, 3)):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(float(pred.sum() + (y == 1).sum()), 1.0)
        stats.append((float(t), float((pred == (y == 1)).mean()), f1))
    if not stats:
        return 0.5, {}
    top_acc = max(acc for _, acc, _ in stats)
    t, acc, f1 = max((s for s in stats if s[1] >= top_acc - tolerance), key=lambda s: s[2])
    return t, {"dev_accuracy": acc, "dev_f1": f1}
