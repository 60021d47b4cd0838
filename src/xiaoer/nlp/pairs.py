"""Pair scorer: are two customer questions the same question?

Shallow similarity (cosines, overlap) alone cannot separate "花呗怎么还款" from "花呗怎么开通":
the pairs share almost everything. The model therefore also sees *what* is shared and *what*
differs: the element-wise product and absolute difference of the two texts' TF-IDF vectors
(char 1–3 + words), and a bag of the words present in only one text. Word and character vectors
learned from the training questions themselves (`vectors.CooccurrenceVectors`) add what the
lexical view cannot see: that 花呗 and 蚂蚁花呗 are close while 还款 and 开通 are not. A logistic
regression on the sparse features plus mean-vector products/differences gives a probability,
averaged with boosted trees on dense pair features (similarities, key terms, token alignment).
The decision threshold is tuned on a separate dev set when one is given, else on out-of-fold
probabilities of the training pairs (see `tune_threshold`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import ThreadpoolController

from xiaoer.nlp.text import normalize, tokenize
from xiaoer.nlp.vectors import CooccurrenceVectors

Progress = Callable[[str, float], None]
FOLDS = 5  # out-of-fold threshold tuning when no dev set is given
SMALL_BATCH = 64  # pairs scored on one thread (see `predict_proba`)
VECTOR_WEIGHT = 2.0  # scale of the mean-vector product/|difference| columns in the linear view
ACC_TOLERANCE = 0.003  # see `tune_threshold`
WEAK_ALIGNMENT = 0.6  # a token whose best match in the other text is below this is "unmatched"
_threads: ThreadpoolController | None = None


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


# Words whose presence in only one of the two questions often flips the meaning: products
# (花呗 vs 借呗), actions (开通 vs 关闭 vs 还款), question words (怎么 vs 为什么 vs 多少), negation.
_KEY_TERMS = [
    "花呗",
    "借呗",
    "余额宝",
    "蚂蚁",
    "信用卡",
    "银行卡",
    "还款",
    "还钱",
    "分期",
    "提额",
    "额度",
    "逾期",
    "利息",
    "开通",
    "关闭",
    "取消",
    "退款",
    "支付",
    "付款",
    "红包",
    "积分",
    "账单",
    "冻结",
    "手续费",
    "提前",
    "临时",
    "降低",
    "提现",
    "转账",
    "芝麻",
    "支付宝",
    "收钱",
    "商家",
    "淘宝",
    "更改",
    "绑定",
    "解绑",
    "自动",
    "最低",
    "延期",
    "退货",
    "换货",
    "发货",
    "快递",
    "物流",
    "发票",
    "优惠",
    "运费",
    "尺码",
    "怎么",
    "为什么",
    "多少",
    "能不能",
    "可以",
    "吗",
    "什么时候",
    "哪",
    "如何",
    "是否",
    "几",
    "不",
    "没",
    "无法",
    "不能",
    "已经",
    "还没",
    "用",
    "要",
]


def _one_thread() -> Any:
    """Context limiting OpenMP and BLAS pools to one thread (the controller is built once)."""
    global _threads
    if _threads is None:
        _threads = ThreadpoolController()
    return _threads.limit(limits=1)


def _grams(text: str, n: int) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def _jaccard(x: set[str], y: set[str]) -> float:
    return len(x & y) / max(len(x | y), 1)


def _pair_features(na: Sequence[str], nb: Sequence[str]) -> np.ndarray:
    """Dense similarity features for the boosted-trees view: lengths, edit similarities, word and
    char n-gram overlap, digit mismatch, and for each key term whether it is in one text or both."""
    out = []
    for x, z in zip(na, nb, strict=True):
        wx, wz = set(tokenize(x)), set(tokenize(z))
        lx, lz = len(x), len(z)
        f = [
            lx,
            lz,
            abs(lx - lz),
            min(lx, lz) / max(lx, lz, 1),
            Levenshtein.normalized_similarity(x, z),
            Indel.normalized_similarity(x, z),
            fuzz.partial_ratio(x, z) / 100.0,
            _jaccard(wx, wz),
            len(wx - wz),
            len(wz - wx),
            len(wx & wz),
        ]
        for n in (1, 2, 3):
            gx, gz = _grams(x, n), _grams(z, n)
            f += [_jaccard(gx, gz), len(gx & gz) / max(min(len(gx), len(gz)), 1)]
        f.append(float({c for c in x if c.isdigit()} != {c for c in z if c.isdigit()}))
        for k in _KEY_TERMS:
            ix, iz = k in x, k in z
            f.append(2.0 if ix and iz else (1.0 if ix != iz else 0.0))
        out.append(f)
    return np.asarray(out, dtype=np.float32).reshape(len(out), -1)


def _alignment_features(
    na: Sequence[str], nb: Sequence[str], views: Sequence[tuple[Any, CooccurrenceVectors]]
) -> np.ndarray:
    """Per view (words, characters): cosine of the mean vectors, how well each text's tokens find
    a close token in the other (mean and worst best-match, count of unmatched tokens), and for
    words, how close the words present in only one text are to each other (a synonym swap such
    as 花呗/蚂蚁花呗 keeps the question, 还款/开通 changes it)."""
    out = []
    for x, z in zip(na, nb, strict=True):
        f: list[float] = []
        cut = [(tok(x), tok(z)) for tok, _ in views]
        for (tx, tz), (_, vec) in zip(cut, views, strict=True):
            vx, vz = vec.lookup(tx), vec.lookup(tz)
            if not len(vx) or not len(vz):
                f += [0.0] * 7
                continue
            mx, mz = vx.mean(axis=0), vz.mean(axis=0)
            cos = float(mx @ mz / (np.linalg.norm(mx) * np.linalg.norm(mz) + 1e-9))
            sim = vx @ vz.T
            bx, bz = sim.max(axis=1), sim.max(axis=0)
            f += [
                cos,
                float(bx.mean()),
                float(bz.mean()),
                float(bx.min()),
                float(bz.min()),
                float((bx < WEAK_ALIGNMENT).sum()),
                float((bz < WEAK_ALIGNMENT).sum()),
            ]
        words = views[0][1]  # the word view: its tokens are the words only one text has
        wx, wz = set(cut[0][0]), set(cut[0][1])
        ox, oz = words.lookup(sorted(wx - wz)), words.lookup(sorted(wz - wx))
        if len(ox) and len(oz):
            f.append(float((ox @ oz.T).max()))
        else:
            f.append(1.0 if wx == wz else -1.0)
        out.append(f)
    return np.asarray(out, dtype=np.float32).reshape(len(out), -1)


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
        self.word_vectors: CooccurrenceVectors | None = None
        self.char_vectors: CooccurrenceVectors | None = None
        self.model: LogisticRegression | None = None
        self.trees: HistGradientBoostingClassifier | None = None
        self.dev_metrics: dict[str, float] = {}

    def _features(self, a: Sequence[str], b: Sequence[str], fit: bool = False) -> sp.csr_matrix:
        return self._sparse_features([normalize(t) for t in a], [normalize(t) for t in b], fit)

    def _sparse_features(
        self, na: Sequence[str], nb: Sequence[str], fit: bool = False
    ) -> sp.csr_matrix:
        pairs = [f"{x}\x1f{y}" for x, y in zip(na, nb, strict=True)]
        if fit:
            self._fit_vectors([*na, *nb])
            self.chars.fit([*na, *nb])
            self.words.fit([*na, *nb])
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
        for tok, vec in self._views():
            ma, mb = vec.mean([tok(x) for x in na]), vec.mean([tok(x) for x in nb])
            blocks.append(sp.csr_matrix(np.hstack([ma * mb, np.abs(ma - mb)]) * VECTOR_WEIGHT))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _fit_vectors(self, texts: Sequence[str]) -> None:
        """Word and character vectors from the training questions (each distinct text once)."""
        distinct = sorted(set(texts))
        self.word_vectors = CooccurrenceVectors.fit([tokenize(t) for t in distinct], dim=100)
        self.char_vectors = CooccurrenceVectors.fit([list(t) for t in distinct], dim=64, window=2)

    def _views(self) -> list[tuple[Any, CooccurrenceVectors]]:
        # Models saved before the vectors existed have none (and were trained without them).
        words = getattr(self, "word_vectors", None)
        chars = getattr(self, "char_vectors", None)
        if words is None or chars is None:
            return []
        return [(tokenize, words), (list, chars)]

    def _dense_features(self, na: Sequence[str], nb: Sequence[str]) -> np.ndarray:
        views = self._views()
        base = _pair_features(na, nb)
        if not views:
            return base
        return np.hstack([base, _alignment_features(na, nb, views)])

    def fit(
        self,
        a: Sequence[str],
        b: Sequence[str],
        y: Sequence[int],
        *,
        dev: tuple[Sequence[str], Sequence[str], Sequence[int]] | None = None,
        progress: Progress | None = None,
    ) -> PairScorer:
        """Train on pairs and tune `threshold` (see `tune_threshold`): on `dev` when given, else
        on 5-fold out-of-fold probabilities of the training pairs (`dev_metrics` then holds
        `oof_accuracy`/`oof_f1`); the final models are fitted on all pairs."""
        if progress:
            progress("features", 0.1)
        na = [normalize(t) for t in a]
        nb = [normalize(t) for t in b]
        yy = np.asarray(y)
        # The vectorizers only count n-grams (no labels), so fitting them once on every training
        # pair, held-out folds included, does not leak the folds' labels.
        X = self._sparse_features(na, nb, fit=True)
        F = self._dense_features(na, nb)
        if dev is None and _enough_for_folds(yy):
            # Out-of-fold probabilities over all training pairs: a steadier threshold than one
            # tuned on a 10 % slice (on AFQMC a slice picked 0.428: dev F1 0.396, under 0.40).
            oof = np.zeros(len(yy))
            folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=7)
            for k, (tr, te) in enumerate(folds.split(F, yy)):
                if progress:
                    progress(f"threshold: fold {k + 1}/{FOLDS}", 0.2 + 0.5 * k / FOLDS)
                self._fit_models(X[tr], F[tr], yy[tr])
                oof[te] = self._combine(X[te], F[te])
            self.threshold, m = tune_threshold(oof, yy)
            self.dev_metrics = {"oof_" + k.removeprefix("dev_"): v for k, v in m.items()}
        if progress:
            progress("training", 0.7)
        self._fit_models(X, F, yy)
        if dev is not None:
            if progress:
                progress("tuning threshold on dev", 0.9)
            p = self.predict_proba(dev[0], dev[1])
            self.threshold, self.dev_metrics = tune_threshold(p, np.asarray(dev[2]))
        return self

    def _fit_models(self, X: sp.csr_matrix, F: np.ndarray, y: np.ndarray) -> None:
        # One thread: on the shared 2-core machine, training with OpenMP/BLAS pools took 85–120 s
        # against 39–57 s single-threaded (the pools' barriers stall when other jobs run).
        with _one_thread():
            self.model = LogisticRegression(C=self.C, max_iter=2000).fit(X, y)
            self.trees = HistGradientBoostingClassifier(
                max_iter=300, learning_rate=0.05, random_state=0
            ).fit(F, y)

    def _combine(self, X: sp.csr_matrix, F: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit first"
        out: np.ndarray = self.model.predict_proba(X)[:, 1]
        trees = getattr(self, "trees", None)  # models saved before the trees view have none
        if trees is not None:
            out = 0.5 * out + 0.5 * trees.predict_proba(F)[:, 1]
        return out

    def predict_proba(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Average of the linear model's and the boosted trees' probabilities."""
        assert self.model is not None, "fit first"
        na = [normalize(t) for t in a]
        nb = [normalize(t) for t in b]
        # Inputs are built here, so scikit-learn's per-call checks only cost time: about half of
        # scoring one pair went to parameter validation and input inspection in ten calls.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            X, F = self._sparse_features(na, nb), self._dense_features(na, nb)
            if len(na) > SMALL_BATCH:
                return self._combine(X, F)
            # The trees' OpenMP pool gains nothing on a few pairs and, when other processes share
            # the cores, waits at its barriers: one pair at a time went from p99 ~11 ms to ~1.4 s.
            with _one_thread():
                return self._combine(X, F)

    def same(self, a: str, b: str) -> bool:
        return bool(self.predict_proba([a], [b])[0] >= self.threshold)


def _enough_for_folds(y: np.ndarray) -> bool:
    """Whether out-of-fold tuning can say anything (else `threshold` stays 0.5)."""
    counts = np.bincount(y, minlength=2)
    return len(y) >= 200 and int(counts.min()) >= 10 * FOLDS


def tune_threshold(
    p: np.ndarray, y: np.ndarray, min_f1: float = 0.40
) -> tuple[float, dict[str, float]]:
    """Among thresholds whose F1 of the "same question" class is at least `min_f1` (a matcher that
    never says "same" is useless), the best F1 within `ACC_TOLERANCE` of the best accuracy;
    when no threshold reaches `min_f1`, the one with the best mean of accuracy and F1."""
    stats = []
    for t in np.unique(np.round(p, 3)):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        f1 = 2 * tp / max(float(pred.sum() + (y == 1).sum()), 1.0)
        stats.append((float(t), float((pred == (y == 1)).mean()), f1))
    if not stats:
        return 0.5, {}
    ok = [s for s in stats if s[2] >= min_f1]
    if ok:
        # Accuracies a few tenths of a point apart are noise on a few thousand pairs; among them,
        # the threshold that finds the most "same question" pairs (best F1), away from the cliff
        # where F1 falls under `min_f1`.
        best = max(s[1] for s in ok)
        near = [s for s in ok if s[1] >= best - ACC_TOLERANCE]
        t, acc, f1 = max(near, key=lambda s: (s[2], s[1]))
    else:
        t, acc, f1 = max(stats, key=lambda s: s[1] + s[2])
    return t, {"dev_accuracy": acc, "dev_f1": f1}
