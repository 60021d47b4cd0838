"""Script matching: which answer script (话术) does a customer message ask for?

Views fused per script: nearest variant cosine and centroid cosine over word + char n-gram TF-IDF,
BM25 over words, and (for libraries up to `svm_max_scripts` scripts) a linear classifier trained
on the variants. The confidence of the top script comes from a small logistic model over margins
and agreement between views, fitted by cross-validation on the library itself: each fold hides
some variants (they must be matched back) and, for a share of them, their whole script (they must
then be declined). `threshold` is the lowest confidence whose cross-validated precision reaches
`target_precision`; nothing about real queries is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from xiaoer.nlp.text import normalize, word_analyzer


@dataclass(frozen=True)
class ScriptMatch:
    """`score` ranks scripts for one message; `confidence` ≈ P(this script is right)."""

    script_id: str
    score: float
    confidence: float


_N_FEATURES = 9


class _Index:
    """Vectors of a set of variants, grouped by script (rows of `scripts`)."""

    def __init__(
        self,
        vec: Any,
        X: sp.csr_matrix,
        owner: np.ndarray,
        n_scripts: int,
        use_svm: bool,
        svm_c: float,
    ) -> None:
        self.X = X
        self.XT = X.T.tocsr()
        self.owner = owner
        self.n_scripts = n_scripts
        onehot = sp.csr_matrix(
            (np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))),
            shape=(n_scripts, len(owner)),
        )
        sums = onehot @ X
        norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel()) + 1e-9
        self.centroids_T = sp.csr_matrix(sums.multiply(1.0 / norms[:, None])).T.tocsr()
        # For per-script max over variants: variants sorted by owner, reduceat boundaries.
        self.order = np.argsort(owner, kind="stable")
        sorted_owner = owner[self.order]
        self.starts = np.searchsorted(sorted_owner, np.arange(n_scripts))
        self.present = np.isin(np.arange(n_scripts), owner)
        self.svm: LinearSVC | None = None
        if use_svm and len(set(owner.tolist())) >= 2:
            self.svm = LinearSVC(C=svm_c).fit(X, owner)

    def views(self, Q: sp.csr_matrix) -> list[np.ndarray]:
        """Per-script scores (queries × scripts) from each view."""
        sims = (Q @ self.XT).toarray()[:, self.order]
        safe_starts = np.minimum(self.starts, max(sims.shape[1] - 1, 0))
        nn = np.maximum.reduceat(sims, safe_starts, axis=1) if sims.shape[1] else sims
        nn[:, ~self.present] = 0.0
        cent = (Q @ self.centroids_T).toarray()
        out = [nn, cent]
        if self.svm is not None:
            raw = self.svm.decision_function(Q)
            if raw.ndim == 1:
                raw = np.stack([-raw, raw], axis=1)
            full = np.full((Q.shape[0], self.n_scripts), -2.0, dtype=np.float32)
            full[:, self.svm.classes_] = raw
            out.append(full)
        return out


def _fuse(views: list[np.ndarray]) -> np.ndarray:
    fused = 0.5 * views[0] + 0.5 * views[1]
    if len(views) > 2:
        # SVM margins are roughly in [-1.5, 1.5]; squash to 0..1 and give them a third.
        fused = (2.0 / 3.0) * fused + (1.0 / 3.0) * (1.0 / (1.0 + np.exp(-3.0 * views[2])))
    return fused


def _features(views: list[np.ndarray], fused: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration features for each query's top fused script, and that script's index."""
    n = fused.shape[0]
    rows = np.arange(n)
    top2 = np.argsort(-fused, axis=1)[:, :2]
    best = top2[:, 0]
    second = top2[:, 1] if fused.shape[1] > 1 else top2[:, 0]
    f = np.zeros((n, _N_FEATURES), dtype=np.float64)
    f[:, 0] = fused[rows, best]
    f[:, 1] = fused[rows, best] - fused[rows, second]
    for j, v in enumerate(views[:2]):
        f[:, 2 + 2 * j] = v[rows, best]
        f[:, 3 + 2 * j] = (v.argmax(axis=1) == best).astype(float)
    if len(views) > 2:
        svm = views[2]
        f[:, 6] = svm[rows, best]
        f[:, 7] = (svm.argmax(axis=1) == best).astype(float)
        srt = np.sort(svm, axis=1)
        f[:, 8] = srt[:, -1] - srt[:, -2] if svm.shape[1] > 1 else 0.0
    return f, best


class ScriptMatcher:
    """Top-k scripts for a message and a precision-first "answer or hand off" decision."""

    def __init__(self) -> None:
        self.script_ids: list[str] = []
        self.threshold = 1.0
        self.target_precision = 0.96
        self.cv_metrics: dict[str, float] = {}
        self._vec: Any = None
        self._index: _Index | None = None
        self._calib: LogisticRegression | None = None

    @classmethod
    def build(
        cls,
        library: Iterable[tuple[str, Sequence[str]]],
        *,
        target_precision: float = 0.96,
        svm_max_scripts: int = 1000,
        calibration_sample: int = 1500,
        seed: int = 7,
    ) -> ScriptMatcher:
        """Index `(script_id, question variants)` pairs (ids may repeat; variants are merged).

        Cost: one TF-IDF fit, an SVM on the variants when the library has at most
        `svm_max_scripts` scripts, and a 4-fold calibration on at most `calibration_sample`
        variants.
        """
        self = cls()
        self.target_precision = target_precision
        ids: dict[str, int] = {}
        texts: list[str] = []
        owner: list[int] = []
        for script_id, variants in library:
            sid = ids.setdefault(str(script_id), len(ids))
            for v in variants:
                norm = normalize(v)
                if norm:
                    texts.append(norm)
                    owner.append(sid)
        self.script_ids = list(ids)
        if not texts:
            raise ValueError("the script library has no question variants")
        owner_arr = np.array(owner)
        self._vec = _Vectorizer().fit(texts)
        X = self._vec.transform(texts)
        use_svm = len(ids) <= svm_max_scripts
        svm_c = 1.0
        self._index = _Index(self._vec, X, owner_arr, len(ids), use_svm, svm_c)
        self._calibrate(X, owner_arr, use_svm, svm_c, calibration_sample, seed)
        return self

    def _calibrate(
        self,
        X: sp.csr_matrix,
        owner: np.ndarray,
        use_svm: bool,
        svm_c: float,
        sample: int,
        seed: int,
    ) -> None:
        rng = np.random.default_rng(seed)
        n = len(owner)
        counts = np.bincount(owner, minlength=len(self.script_ids))
        eligible = np.nonzero(counts[owner] >= 2)[0]
        if len(eligible) < 20:
            self.threshold = 1.01  # too few variants to know when we are right: never answer
            return
        chosen = rng.permutation(eligible)[:sample]
        folds = 4
        feats, labels = [], []
        for k in range(folds):
            held = chosen[k::folds]
            keep = np.ones(n, dtype=bool)
            keep[held] = False
            idx = _Index(self._vec, X[keep], owner[keep], len(self.script_ids), use_svm, svm_c)
            Q = X[held]
            views = idx.views(Q)
            fused = _fuse(views)
            f, best = _features(views, fused)
            feats.append(f)
            labels.append(best == owner[held])
            # The same queries with their whole script removed: an unknown question.
            if k % 2 == 0:
                masked = [v.copy() for v in views]
                for v in masked:
                    v[np.arange(len(held)), owner[held]] = -5.0
                fm = _fuse(masked)
                f2, _ = _features(masked, fm)
                feats.append(f2)
                labels.append(np.zeros(len(held), dtype=bool))
        F = np.vstack(feats)
        y = np.concatenate(labels)
        if y.all() or not y.any():
            self.threshold = 1.01 if not y.any() else 0.0
            return
        self._calib = LogisticRegression(C=1.0, max_iter=1000).fit(F, y)
        conf = self._calib.predict_proba(F)[:, 1]
        order = np.argsort(-conf)
        precision = np.cumsum(y[order]) / np.arange(1, len(y) + 1)
        ok = np.nonzero(precision >= self.target_precision)[0]
        # The lowest confidence at which everything above it is still precise enough.
        self.threshold = float(conf[order][ok.max()]) if len(ok) else 1.01
        answered = conf >= self.threshold
        self.cv_metrics = {
            "cv_answer_rate": float(answered.mean()),
            "cv_precision": float(y[answered].mean()) if answered.any() else 0.0,
            "cv_top1": float(np.concatenate(labels[0::3]).mean()) if labels else 0.0,
        }

    def _score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        assert self._index is not None
        Q = self._vec.transform([normalize(t) for t in texts])
        views = self._index.views(Q)
        fused = _fuse(views)
        if self._calib is None:
            conf = np.zeros(len(texts))
        else:
            f, _ = _features(views, fused)
            conf = self._calib.predict_proba(f)[:, 1]
        return fused, conf

    def search(self, text: str, k: int = 3) -> list[ScriptMatch]:
        """The `k` best scripts, best first; only the first carries a real confidence."""
        return self.search_many([text], k)[0]

    def search_many(self, texts: Sequence[str], k: int = 3) -> list[list[ScriptMatch]]:
        fused, conf = self._score(texts)
        out = []
        for row, c in zip(fused, conf, strict=True):
            top = np.argsort(-row)[:k]
            matches = [
                ScriptMatch(self.script_ids[j], float(row[j]), float(c) if i == 0 else 0.0)
                for i, j in enumerate(top)
            ]
            out.append(matches)
        return out

    def answer(self, text: str) -> ScriptMatch | None:
        """The top script when its confidence reaches `threshold` (precision first), else None."""
        best = self.search(text, k=1)
        if best and best[0].confidence >= self.threshold:
            return best[0]
        return None


class _Vectorizer:
    """Word 1–2-grams (jieba for Chinese) and char_wb 1–4-grams, each L2-normalised, joined."""

    def __init__(self) -> None:
        self.words = TfidfVectorizer(analyzer=word_analyzer, sublinear_tf=True, dtype=np.float32)
        self.chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, dtype=np.float32
        )

    def fit(self, texts: Sequence[str]) -> _Vectorizer:
        self.words.fit(texts)
        self.chars.fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        w = self.words.transform(texts)
        c = self.chars.transform(texts)
        X = sp.hstack([w * np.float32(0.5**0.5), c * np.float32(0.5**0.5)], format="csr")
        return X.astype(np.float32)
