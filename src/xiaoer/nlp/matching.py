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

import functools
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from xiaoer.nlp.text import normalize, tfidf_row


@dataclass(frozen=True)
class ScriptMatch:
    """`score` ranks scripts for one message; `confidence` ≈ P(this script is right)."""

    script_id: str
    score: float
    confidence: float


_CANDIDATES = 40  # scripts whose variants are compared one by one in a large library


class _Index:
    """Vectors of a set of variants, grouped by script."""

    def __init__(
        self,
        X: sp.csr_matrix,
        owner: np.ndarray,
        n_scripts: int,
        use_svm: bool,
        svm_c: float,
        exact_max_scripts: int,
    ) -> None:
        self.X = X
        self.XT = X.T.tocsr() if n_scripts <= exact_max_scripts else None
        self.owner = owner
        self.n_scripts = n_scripts
        onehot = sp.csr_matrix(
            (np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))),
            shape=(n_scripts, len(owner)),
        )
        self.sums = (onehot @ X).tocsr()
        self.sum_norm2 = np.asarray(self.sums.multiply(self.sums).sum(axis=1)).ravel()
        norms = np.sqrt(self.sum_norm2) + 1e-9
        self.centroids_T = sp.csr_matrix(self.sums.multiply(1.0 / norms[:, None])).T.tocsr()
        # Variants sorted by script: per-script max over variants with one reduceat.
        self.order = np.argsort(owner, kind="stable")
        sorted_owner = owner[self.order]
        self.starts = np.searchsorted(sorted_owner, np.arange(n_scripts))
        self.ends = np.searchsorted(sorted_owner, np.arange(n_scripts), side="right")
        self.present = self.ends > self.starts
        self.exact = n_scripts <= exact_max_scripts
        self.X_sorted = X[self.order]
        self.E: np.ndarray | None = None
        self.E_sums: np.ndarray | None = None
        self.svm: _LinearScorer | None = None
        if use_svm and len(np.unique(owner)) >= 2:
            self.svm = _LinearScorer(LinearSVC(C=svm_c).fit(X, owner))

    def _nn(self, sims_sorted: np.ndarray) -> np.ndarray:
        safe = np.minimum(self.starts, max(sims_sorted.shape[1] - 1, 0))
        nn = np.maximum.reduceat(sims_sorted, safe, axis=1)
        nn[:, ~self.present] = 0.0
        return nn

    def views(
        self, Q: sp.csr_matrix, exclude: np.ndarray | None = None, Qe: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-script scores (queries × scripts): nearest variant, centroid, SVM.

        `exclude[i]` is a variant index hidden from query i (leave-one-out calibration): it is
        dropped from its script's nearest-variant and centroid scores.
        """
        n = Q.shape[0]
        rows = np.arange(n)
        cent = (Q @ self.centroids_T).toarray()
        if exclude is not None:
            own = self.owner[exclude]
            dot_sum = np.asarray((Q.multiply(self.sums[own])).sum(axis=1)).ravel()
            # |sum - v|² = |sum|² - 2 sum·v + 1 and q = v for a held-out variant.
            rest = np.sqrt(np.maximum(self.sum_norm2[own] - 2 * dot_sum + 1.0, 1e-12))
            cent[rows, own] = np.where(rest > 1e-5, (dot_sum - 1.0) / rest, 0.0)
        if self.exact:
            sims = (Q @ self.XT).toarray()
            if exclude is not None:
                sims[rows, exclude] = -1.0
            nn = self._nn(sims[:, self.order])
        else:
            # Large library: exact nearest-variant scores only for the best centroids.
            nn = cent.copy()
            k = min(_CANDIDATES, cent.shape[1])
            top = np.argpartition(-cent, k - 1, axis=1)[:, :k]
            # Variants are stored script by script, so a script's variants are one run of rows
            # and their non-zeros one run of `data`: gather them with plain numpy.
            Xs = self.X_sorted
            ip = Xs.indptr
            q = np.zeros(Xs.shape[1], dtype=np.float32)
            for i in range(n):
                lo, hi = Q.indptr[i], Q.indptr[i + 1]
                qi = Q.indices[lo:hi]
                q[qi] = Q.data[lo:hi]
                ts = top[i][self.present[top[i]]]
                vs, ve = self.starts[ts], self.ends[ts]
                pos = _ranges(ip[vs], ip[ve])
                cs = np.zeros(len(pos) + 1)
                np.cumsum(Xs.data[pos] * q[Xs.indices[pos]], out=cs[1:])
                rows_i = _ranges(vs, ve)
                ends_i = np.cumsum(ip[rows_i + 1] - ip[rows_i])
                sims_i = cs[ends_i] - cs[ends_i - (ip[rows_i + 1] - ip[rows_i])]
                if exclude is not None:
                    sims_i[self.order[rows_i] == exclude[i]] = -1.0
                seg = np.concatenate([[0], np.cumsum(ve - vs)[:-1]])
                nn[i, ts] = np.maximum.reduceat(sims_i, seg) if len(ts) else 0.0
                q[qi] = 0.0
        out = {"nn": nn, "cent": cent}
        if self.svm is not None:
            out["svm"] = self.svm.scores(Q, self.n_scripts)
        if self.E is not None and Qe is not None:
            out |= self._dense_views(Qe, exclude)
        return out

    def _dense_views(self, Qe: np.ndarray, exclude: np.ndarray | None) -> dict[str, np.ndarray]:
        if self.E is None or self.E_sums is None:
            raise RuntimeError("attach_embeddings first")
        n = Qe.shape[0]
        rows = np.arange(n)
        sims = Qe @ self.E.T
        if exclude is not None:
            sims[rows, exclude] = -1.0
        enn = self._nn(sims[:, self.order])
        sums = self.E_sums
        if exclude is not None:
            sums_rows = sums[self.owner[exclude]] - self.E[exclude]
        norms = np.linalg.norm(sums, axis=1) + 1e-9
        ecent = Qe @ (sums / norms[:, None]).T
        if exclude is not None:
            own = self.owner[exclude]
            rest = np.linalg.norm(sums_rows, axis=1)
            ecent[rows, own] = np.where(
                rest > 1e-5, (Qe * sums_rows).sum(axis=1) / np.maximum(rest, 1e-9), 0.0
            )
        return {"enn": enn, "ecent": ecent}

    def attach_embeddings(self, E: np.ndarray) -> None:
        """Dense, L2-normalised variant embeddings (rows aligned with the TF-IDF rows)."""
        self.E = E.astype(np.float32)
        onehot = np.zeros((self.n_scripts, len(self.owner)), dtype=np.float32)
        onehot[self.owner, np.arange(len(self.owner))] = 1.0
        self.E_sums = onehot @ self.E


class _LinearScorer:
    """A fitted one-vs-rest LinearSVC kept as a sparse float32 weight matrix (the dense float64
    `coef_` of a few hundred scripts would dominate memory)."""

    def __init__(self, svm: LinearSVC) -> None:
        coef = np.asarray(svm.coef_, dtype=np.float32)
        self.coef_T = sp.csr_matrix(coef).T.tocsr()
        self.intercept = np.asarray(svm.intercept_, dtype=np.float32)
        self.classes = np.asarray(svm.classes_)

    def scores(self, Q: sp.csr_matrix, n_scripts: int) -> np.ndarray:
        raw = (Q @ self.coef_T).toarray() + self.intercept
        if raw.shape[1] == 1:
            raw = np.hstack([-raw, raw])
        full = np.full((Q.shape[0], n_scripts), -2.0, dtype=np.float32)
        full[:, self.classes] = raw
        return full


def _fuse(views: dict[str, np.ndarray]) -> np.ndarray:
    """One ranking score per script: lexical (nearest variant + centroid), then the SVM and the
    embedding views when present, each squashed to 0..1-like ranges and averaged."""
    fused = 0.5 * views["nn"] + 0.5 * views["cent"]
    parts, weights = [fused], [1.0]
    if "svm" in views:
        # SVM margins are roughly in [-1.5, 1.5]; squash to 0..1.
        parts.append(1.0 / (1.0 + np.exp(-3.0 * views["svm"])))
        weights.append(0.5)
    if "enn" in views:
        parts.append(0.5 * views["enn"] + 0.5 * views["ecent"])
        weights.append(1.0)
    out = np.zeros_like(fused)
    for w, p in zip(weights, parts, strict=True):
        out += (w / sum(weights)) * p
    return out


def _features(views: dict[str, np.ndarray], fused: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration features for each query's top fused script, and that script's index:
    the fused score and margin, and per view its score for that script, whether the view ranks
    it first, and the view's own top-2 margin."""
    n = fused.shape[0]
    rows = np.arange(n)
    if fused.shape[1] > 2:
        part = np.argpartition(-fused, 1, axis=1)[:, :2]
        swap = fused[rows, part[:, 0]] < fused[rows, part[:, 1]]
        best = np.where(swap, part[:, 1], part[:, 0])
        second = np.where(swap, part[:, 0], part[:, 1])
    else:
        order = np.argsort(-fused, axis=1)
        best = order[:, 0]
        second = order[:, -1]
    cols = [fused[rows, best], fused[rows, best] - fused[rows, second]]
    for name in ("nn", "cent", "svm", "enn", "ecent"):
        v = views.get(name)
        if v is None:
            continue
        cols.append(v[rows, best])
        cols.append((v.argmax(axis=1) == best).astype(float))
        if v.shape[1] > 2:
            top2 = -np.partition(-v, 1, axis=1)[:, :2]
            cols.append(np.abs(top2[:, 0] - top2[:, 1]))
        else:
            cols.append(np.zeros(n))
    return np.stack(cols, axis=1).astype(np.float64), best


# Messages no shop script should answer: asked against the library during calibration, they must
# be declined. They teach the calibrator what an unrelated message that shares a word or two
# with a script ("今天天气怎么样" vs "今天能发货吗") looks like.
_UNRELATED = (
    "今天天气怎么样",
    "给我讲个笑话",
    "你是机器人吗",
    "你叫什么名字",
    "你几岁了",
    "我好无聊",
    "你喜欢什么颜色",
    "周末去哪里玩",
    "推荐一部电影",
    "今天星期几",
    "现在几点了",
    "你吃饭了吗",
    "帮我写首诗",
    "明天会下雨吗",
    "北京有什么好吃的",
    "一加一等于几",
    "我想听歌",
    "你会说英语吗",
    "世界上最高的山是什么",
    "怎么学做饭",
    "股票会涨吗",
    "我心情不好",
    "猫为什么喜欢睡觉",
    "what's the weather like",
    "tell me a joke",
    "are you a robot",
    "what is your name",
    "how old are you",
    "recommend a movie",
    "what time is it",
    "play some music",
    "who won the game last night",
    "how tall is mount everest",
    "what is the capital of france",
    "i am bored",
    "sing me a song",
    "how do i cook rice",
    "will it rain tomorrow",
    "what day is it today",
    "translate hello into french",
)


class ScriptMatcher:
    """Top-k scripts for a message and a precision-first "answer or hand off" decision."""

    def __init__(self) -> None:
        self.script_ids: list[str] = []
        self.threshold = 1.0
        self.min_score = 0.0
        self.target_precision = 0.96
        self.cv_metrics: dict[str, float] = {}
        self._vec: Any = None
        self._index: _Index | None = None
        self._calib: LogisticRegression | None = None
        self._embedder: Any | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_embedder"] = getattr(self._embedder, "spec", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        spec = state.get("_embedder")
        if spec is not None:
            from xiaoer.nlp.embeddings import load_embedder

            state["_embedder"] = load_embedder(spec)
        self.__dict__.update(state)

    @classmethod
    def build(
        cls,
        library: Iterable[tuple[str, Sequence[str]]],
        *,
        target_precision: float = 0.96,
        svm_max_scripts: int = 500,
        exact_max_scripts: int = 1000,
        calibration_sample: int = 1500,
        seed: int = 7,
        embedder: Any | None = None,
    ) -> ScriptMatcher:
        """Index `(script_id, question variants)` pairs (ids may repeat; variants are merged).

        Cost: one TF-IDF fit, an SVM on the variants when the library has at most
        `svm_max_scripts` scripts, and a leave-one-out calibration on at most
        `calibration_sample` variants. With `embedder` (see `xiaoer.nlp.embeddings`), dense
        nearest-variant and centroid cosines join the fused score and the calibration.
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
        self._vec = _Vectorizer()
        X = self._vec.fit_transform(texts)
        use_svm = len(ids) <= svm_max_scripts
        svm_c = 1.0
        self._index = _Index(X, owner_arr, len(ids), use_svm, svm_c, exact_max_scripts)
        if embedder is not None:
            self._embedder = embedder
            self._index.attach_embeddings(embedder.encode(texts))
        if len(ids) > exact_max_scripts:
            calibration_sample = min(calibration_sample, 800)  # keeps large builds fast
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
        index = self._index
        assert index is not None
        Qe = index.E[chosen] if index.E is not None else None
        views = index.views(X[chosen], exclude=chosen, Qe=Qe)
        if index.svm is not None:
            # The SVM view cannot leave one variant out cheaply: 4-fold out-of-fold scores.
            folds = 4
            svm_view = np.full((len(chosen), len(self.script_ids)), -2.0, dtype=np.float32)
            for k in range(folds):
                part = np.arange(len(chosen))[k::folds]
                keep = np.ones(n, dtype=bool)
                keep[chosen[part]] = False
                fold_svm = _LinearScorer(LinearSVC(C=svm_c).fit(X[keep], owner[keep]))
                svm_view[part] = fold_svm.scores(X[chosen[part]], len(self.script_ids))
            views["svm"] = svm_view
        fused = _fuse(views)
        f, best = _features(views, fused)
        feats, labels = [f], [best == owner[chosen]]
        # Half of the same queries with their whole script removed: an unknown question.
        half = np.arange(len(chosen))[::2]
        masked = {name: v[half].copy() for name, v in views.items()}
        for v in masked.values():
            v[np.arange(len(half)), owner[chosen[half]]] = -5.0
        f2, _ = _features(masked, _fuse(masked))
        feats.append(f2)
        labels.append(np.zeros(len(half), dtype=bool))
        unrelated = [normalize(t) for t in _UNRELATED]
        Qu = self._vec.transform(unrelated)
        Que = (
            self._embedder.encode(unrelated)
            if self._embedder is not None and index.E is not None
            else None
        )
        uviews = index.views(Qu, Qe=Que)
        if "svm" in views and "svm" not in uviews:
            uviews["svm"] = np.full_like(uviews["nn"], -2.0)
        fu, _ = _features(uviews, _fuse(uviews))
        feats.append(fu)
        labels.append(np.zeros(len(unrelated), dtype=bool))
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
        # A floor on the fused score itself: the calibrator sees margins, and in a small
        # library an unrelated message can win by a wide margin with a low score.
        good = answered & y
        self.min_score = float(np.percentile(F[good, 0], 2)) if good.sum() >= 10 else 0.0
        self.cv_metrics = {
            "cv_answer_rate": float(answered.mean()),
            "cv_precision": float(y[answered].mean()) if answered.any() else 0.0,
            "cv_top1": float(labels[0].mean()),
        }

    def _score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        assert self._index is not None
        norm = [normalize(t) for t in texts]
        Q = self._vec.transform(norm)
        Qe = (
            self._embedder.encode(norm)
            if self._embedder is not None and self._index.E is not None
            else None
        )
        views = self._index.views(Q, Qe=Qe)
        fused = _fuse(views)
        if self._calib is None:
            conf = np.zeros(len(texts))
        else:
            f, _ = _features(views, fused)
            z = f @ self._calib.coef_[0] + self._calib.intercept_[0]
            conf = 1.0 / (1.0 + np.exp(-z))
            conf = np.where(f[:, 0] >= self.min_score, conf, conf * 0.5)
        return fused, conf

    def search(self, text: str, k: int = 3) -> list[ScriptMatch]:
        """The `k` best scripts, best first; only the first carries a real confidence."""
        return self.search_many([text], k)[0]

    def search_many(self, texts: Sequence[str], k: int = 3) -> list[list[ScriptMatch]]:
        fused, conf = self._score(texts)
        out = []
        for row, c in zip(fused, conf, strict=True):
            kk = min(k, len(row))
            part = np.argpartition(-row, kk - 1)[:kk]
            top = part[np.argsort(-row[part])]
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


_LATIN_RE = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _latin_words(text: str) -> list[str]:
    toks = _LATIN_RE.findall(text)
    return toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)]


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of `arange(s, e)` for each pair (vectorised)."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _char_wb(text: str, max_n: int) -> list[str]:
    """scikit-learn's `char_wb` analyzer (lower-cased, n = 1…max_n), as a faster comprehension;
    the same multiset of n-grams (tested against scikit-learn)."""
    out: list[str] = []
    for w in text.lower().split():
        w = f" {w} "
        size = len(w)
        for n in range(1, max_n + 1):
            if size <= n:  # a word no longer than n yields itself once, then nothing longer
                out.append(w)
                break
            out += [w[i : i + n] for i in range(size - n + 1)]
    return out


def _fit_tfidf(vec: TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """`vec.fit_transform(texts)` for a sublinear, smooth-idf, L2-normalised vectorizer without
    min/max_df, in a fraction of scikit-learn's time (it sorts the vocabulary and prunes it; here
    feature ids are in order of first appearance). Leaves `vec` fitted exactly as `fit` would,
    up to that order, so `vec.transform` and `tfidf_row` give the same values."""
    analyze = vec.build_analyzer()
    if (
        vec.analyzer == "char_wb"
        and vec.lowercase
        and vec.strip_accents is None
        and vec.ngram_range[0] == 1
    ):
        analyze = functools.partial(_char_wb, max_n=vec.ngram_range[1])
    vocab: defaultdict[str, int] = defaultdict()
    vocab.default_factory = vocab.__len__  # a new n-gram gets the next id
    lookup = vocab.__getitem__
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        indices.extend(map(lookup, analyze(text)))
        indptr.append(len(indices))
    if not vocab:
        raise ValueError("empty vocabulary")
    X = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
        shape=(len(texts), len(vocab)),
    )
    X.sum_duplicates()
    np.log(X.data, out=X.data)
    X.data += 1.0
    df = np.bincount(X.indices, minlength=len(vocab))
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    X.data *= idf[X.indices].astype(np.float32)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr)).astype(np.float32)
    vec.vocabulary_ = dict(vocab)
    vec.idf_ = idf
    return X


class _Vectorizer:
    """Latin word 1–2-grams and char_wb 1–4-grams (Chinese is covered by the char n-grams, which
    keeps building fast: no segmentation), each L2-normalised, joined with equal weight."""

    def __init__(self, char_analyzer: str = "char_wb") -> None:
        self.words = TfidfVectorizer(analyzer=_latin_words, sublinear_tf=True, dtype=np.float32)
        self.chars = TfidfVectorizer(
            analyzer=char_analyzer, ngram_range=(1, 4), sublinear_tf=True, dtype=np.float32
        )
        self.has_words = True
        self._fast: tuple[Any, ...] | None = None

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        try:
            w = _fit_tfidf(self.words, texts)
        except ValueError:  # no latin words at all in the library
            self.has_words = False
            w = None
        c = _fit_tfidf(self.chars, texts)
        return self._join(w, c)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Same values as the fitted scikit-learn vectorizers, without their per-call overhead
        (validation dominated the latency of one short message)."""
        if self._fast is None:
            self._fast = self._prepare()
        vocab_w, idf_w, an_w, vocab_c, idf_c, an_c, offset = self._fast
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            w_idx, w_val = tfidf_row(an_w(text), vocab_w, idf_w) if self.has_words else ([], [])
            c_idx, c_val = tfidf_row(an_c(text), vocab_c, idf_c)
            sw, sc = (0.5**0.5, 0.5**0.5) if w_idx else (0.0, 1.0)
            indices.extend(w_idx)
            data.extend(v * sw for v in w_val)
            indices.extend(i + offset for i in c_idx)
            data.extend(v * sc for v in c_val)
            indptr.append(len(indices))
        width = offset + len(vocab_c)
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(texts), width),
        )

    def _prepare(self) -> tuple[Any, ...]:
        if self.has_words:
            vocab_w = self.words.vocabulary_
            idf_w = self.words.idf_
            an_w = self.words.build_analyzer()
        else:
            vocab_w, idf_w, an_w = {}, np.zeros(0), _latin_words
        return (
            vocab_w,
            idf_w,
            an_w,
            self.chars.vocabulary_,
            self.chars.idf_,
            self.chars.build_analyzer(),
            len(vocab_w),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fast"] = None  # analyzers are closures: rebuilt after loading
        return state

    @staticmethod
    def _join(w: sp.csr_matrix | None, c: sp.csr_matrix) -> sp.csr_matrix:
        if w is None:
            return sp.csr_matrix(c, dtype=np.float32)
        # Rows with no latin words get all their weight from the char view.
        w_has = np.asarray(w.getnnz(axis=1) > 0)
        scale_w = np.where(w_has, 0.5**0.5, 0.0).astype(np.float32)
        scale_c = np.where(w_has, 0.5**0.5, 1.0).astype(np.float32)
        X = sp.hstack([sp.diags(scale_w) @ w, sp.diags(scale_c) @ c], format="csr")
        return X.astype(np.float32)
