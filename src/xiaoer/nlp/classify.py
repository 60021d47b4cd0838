"""Text classifier behind intent and emotion: TF-IDF word + char n-grams → linear SVM.

Probabilities come from a softmax over the SVM scores with a temperature fitted on out-of-fold
scores of the training set; the same out-of-fold probabilities tune the out-of-scope threshold,
so nothing is ever tuned on evaluation data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from xiaoer.nlp.text import is_chinese, normalize, tfidf_row, tokenize, word_analyzer
from xiaoer.nlp.vectors import CooccurrenceVectors

Progress = Callable[[str, float], None]
MAX_FEATURES = 200_000  # per vectorizer
NB_C_RATIO = 0.2  # NB-SVM's C relative to the plain SVM's (its features are larger)
VECTOR_DIM = 100
VECTOR_VOCAB = 30_000  # most frequent tokens with a learned vector (~12 MB of float32)
_LATIN_WORD_RE = re.compile(r"\b\w+\b")


@dataclass(frozen=True)
class Prediction:
    """`label` is the best class; `in_scope` is False when the model declines (OOS)."""

    label: str
    confidence: float
    in_scope: bool


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    best_t, best_nll = 1.0, np.inf
    for t in np.geomspace(0.02, 5.0, 40):
        p = _softmax(scores, float(t))[np.arange(len(y)), y]
        nll = -np.log(np.clip(p, 1e-12, 1.0)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


class _Linear:
    """A fitted linear model (`coef_`, `intercept_`, `classes_`) with `decision_function`."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray) -> None:
        self.coef_ = coef
        self.intercept_ = intercept
        self.classes_ = classes

    def decision_function(self, X: Any) -> np.ndarray:
        raw = np.asarray(X @ self.coef_.T) + self.intercept_
        out: np.ndarray = raw.ravel() if raw.shape[1] == 1 else raw
        return out


def _fit_linear(
    X: sp.csr_matrix, y: np.ndarray, C: float, nb: bool
) -> tuple[_Linear, _Linear | None]:
    """LinearSVC; for two classes with `nb`, averaged with an NB-SVM (Wang & Manning 2012): a
    second SVM on features scaled by their naive-Bayes log-count ratio. Both are linear in X, so
    the average (each scaled by the spread of its training scores) is one weight vector: no
    extra cost at prediction time. Returns (plain SVM, average or None)."""
    svm = LinearSVC(C=C).fit(X, y)
    coef, intercept = svm.coef_, svm.intercept_
    plain = _Linear(np.asarray(coef), np.asarray(intercept), np.asarray(svm.classes_))
    if not (nb and len(svm.classes_) == 2):
        return plain, None
    present = (X > 0).astype(np.float32)
    pos = np.asarray(present[y == svm.classes_[1]].sum(axis=0)).ravel() + 1.0
    neg = np.asarray(present[y == svm.classes_[0]].sum(axis=0)).ravel() + 1.0
    r = np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)
    Xr = sp.csr_matrix(X @ sp.diags(r))
    nbsvm = LinearSVC(C=C * NB_C_RATIO).fit(Xr, y)
    s1 = svm.decision_function(X).std() or 1.0
    s2 = nbsvm.decision_function(Xr).std() or 1.0
    coef = coef / s1 + (nbsvm.coef_ * r) / s2
    intercept = intercept / s1 + nbsvm.intercept_ / s2
    return plain, _Linear(np.asarray(coef), np.asarray(intercept), np.asarray(svm.classes_))


class Featurizer:
    """Word 1–2-gram + character n-gram TF-IDF (char 1–3 for Chinese, char_wb 1–5 otherwise),
    plus the mean of word vectors learned from the training texts (`learned_vectors`): they let
    "top up my card" borrow from "add money to my card", which share no n-gram."""

    def __init__(
        self,
        chinese: bool,
        embedder: Any | None = None,
        embed_weight: float = 1.0,
        learned_vectors: bool = True,
    ):
        self.chinese = chinese
        self.learned_vectors = learned_vectors
        self.vectors: CooccurrenceVectors | None = None
        if chinese:
            # Capped vocabularies: on 50k reviews the uncapped n-gram dictionaries alone take
            # hundreds of MB of Python strings, for a fraction of a point of accuracy.
            self.words = TfidfVectorizer(
                analyzer=word_analyzer,
                sublinear_tf=True,
                min_df=2,
                max_features=MAX_FEATURES,
                dtype=np.float32,
            )
            self.chars = TfidfVectorizer(
                analyzer="char",
                ngram_range=(1, 3),
                sublinear_tf=True,
                min_df=2,
                max_features=MAX_FEATURES,
                dtype=np.float32,
            )
        else:
            self.words = TfidfVectorizer(
                ngram_range=(1, 2),
                token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex, not a password
                sublinear_tf=True,
                dtype=np.float32,
            )
            self.chars = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(1, 5),
                sublinear_tf=True,
                min_df=2,
                dtype=np.float32,
            )
        self.embedder = embedder
        self.embed_weight = embed_weight

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        tokens = self._tokens(texts) if self.learned_vectors else None
        parts = [self.words.fit_transform(self._word_input(texts, tokens))]
        parts.append(self.chars.fit_transform(texts))
        if tokens is not None:
            self.vectors = CooccurrenceVectors.fit(tokens, dim=VECTOR_DIM, max_vocab=VECTOR_VOCAB)
        return self._join(parts, texts, tokens)

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        # One tokenisation serves the word n-grams and the vectors (jieba: ~15 s a pass on 50k).
        return [self._vector_tokens(t) for t in texts]

    def _word_input(self, texts: Sequence[str], tokens: list[list[str]] | None) -> Sequence[Any]:
        """What the word vectorizer reads: Chinese tokens when already cut (see word_analyzer)."""
        if tokens is None or not self.chinese:
            return texts
        return [tuple(t) for t in tokens]

    def _vector_tokens(self, text: str) -> list[str]:
        return tokenize(text) if self.chinese else _LATIN_WORD_RE.findall(text)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        tokens = self._tokens(texts) if getattr(self, "vectors", None) is not None else None
        parts = [self.words.transform(self._word_input(texts, tokens))]
        parts.append(self.chars.transform(texts))
        return self._join(parts, texts, tokens)

    def transform_one(self, text: str) -> sp.csr_matrix:
        """`transform([text])` without scikit-learn's per-call overhead (lexical views only)."""
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = (
                self.words.vocabulary_,
                self.words.idf_,
                self.words.build_analyzer(),
                self.chars.vocabulary_,
                self.chars.idf_,
                self.chars.build_analyzer(),
            )
            self.__dict__["_fast"] = fast
        vocab_w, idf_w, an_w, vocab_c, idf_c, an_c = fast
        vectors = getattr(self, "vectors", None)  # models saved before learned vectors have none
        tokens = self._vector_tokens(text) if vectors is not None else None
        # Chinese word n-grams reuse the tokens cut for the vectors (see word_analyzer).
        word_doc = tuple(tokens) if tokens is not None and self.chinese else text
        wi, wv = tfidf_row(an_w(word_doc), vocab_w, idf_w)
        ci, cv = tfidf_row(an_c(text), vocab_c, idf_c)
        offset = len(vocab_w)
        indices = wi + [i + offset for i in ci]
        values = wv + cv
        width = offset + len(vocab_c)
        if vectors is not None and tokens is not None:
            mean = vectors.mean([tokens])[0]
            if mean.any():
                indices += range(width, width + vectors.dim)
                values += mean.tolist()
            width += vectors.dim
        return sp.csr_matrix(
            (
                np.asarray(values, dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                [0, len(indices)],
            ),
            shape=(1, width),
        )

    def _join(
        self, parts: list[Any], texts: Sequence[str], tokens: list[list[str]] | None
    ) -> sp.csr_matrix:
        vectors = getattr(self, "vectors", None)
        if vectors is not None and tokens is not None:
            parts.append(sp.csr_matrix(vectors.mean(tokens)))
        if self.embedder is not None:
            dense = np.asarray(self.embedder.encode(list(texts)), dtype=np.float32)
            parts.append(sp.csr_matrix(dense * self.embed_weight))
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # Embedders hold large framework objects; they are reattached on load (see embeddings).
        state["embedder"] = getattr(self.embedder, "spec", None)
        state.pop("_fast", None)  # analyzer closures, rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        spec = state.get("embedder")
        if spec is not None:
            from xiaoer.nlp.embeddings import load_embedder

            state["embedder"] = load_embedder(spec)
        self.__dict__.update(state)


class TextClassifier:
    """Multi-class classifier with calibrated probabilities and an out-of-scope threshold.

    With `oos_label`, rows of that label are trained as a rejection class and the threshold on the
    top probability is tuned (out-of-fold, on the training set) to reject as much out-of-scope as
    possible while losing at most `max_in_scope_loss` in-scope accuracy. Without it, the
    threshold is the lowest top probability at which out-of-fold answers are ≥ 90 % correct:
    below it `in_scope` is False.
    """

    def __init__(
        self,
        *,
        C: float = 0.5,
        oos_label: str | None = None,
        embedder: Any | None = None,
        folds: int = 3,
        large: int = 20000,
        max_in_scope_loss: float = 0.01,
        embed_weight: float = 1.5,
        nb_svm: bool = True,
        learned_vectors: bool = True,
    ) -> None:
        self.learned_vectors = learned_vectors  # where they help (see `_wants_vectors`)
        self.nb_svm = nb_svm  # two-class lexical models only (see `_fit_linear`)
        self.embed_weight = embed_weight
        self.max_in_scope_loss = max_in_scope_loss
        self.C = C
        self.oos_label = oos_label
        self.embedder = embedder
        self.folds = folds
        self.large = large
        self.threshold = 0.0
        self.temperature = 1.0
        self.classes_: list[str] = []
        self.featurizer: Featurizer | None = None
        self.coef_T: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.present: np.ndarray | None = None
        self.uses_nb_svm = False
        self.train_metrics: dict[str, float] = {}

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], progress: Progress | None = None
    ) -> TextClassifier:
        def step(msg: str, frac: float) -> None:
            if progress:
                progress(msg, frac)

        step("normalising", 0.0)
        norm = [normalize(t) for t in texts]
        chinese = is_chinese(norm)
        # The packaged embedding model is English-only: Chinese models stay lexical.
        embedder = (
            None if chinese and not getattr(self.embedder, "multilingual", False) else self.embedder
        )
        self.featurizer = Featurizer(
            chinese,
            embedder=embedder,
            embed_weight=self.embed_weight,
            learned_vectors=self._wants_vectors(labels),
        )
        self.embedder = None  # held by the featurizer (which pickles only its spec)
        step("features", 0.1)
        X = self.featurizer.fit_transform(norm)
        self.classes_ = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[label] for label in labels])
        oof = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        nb = self.nb_svm and len(self.classes_) == 2 and embedder is None
        oof_nb = np.zeros_like(oof)
        nb_metrics: dict[str, float] = {}
        counts = np.bincount(y)
        folds = min(self.folds, int(counts.min())) if len(counts) else 0
        if folds >= 2 and len(self.classes_) >= 2:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=7)
            # Large sets: one held-out fold is enough to fit a temperature and a threshold.
            used = 1 if len(y) > self.large else folds
            held = np.zeros(len(y), dtype=bool)
            for k, (tr, te) in enumerate(skf.split(X, y)):
                if k >= used:
                    break
                step(f"fold {k + 1}/{used}", 0.2 + 0.6 * k / used)
                svm, avg = _fit_linear(X[tr], y[tr], self.C, nb)
                oof[te] = self._scores(svm, X[te], len(self.classes_), svm.classes_)
                if avg is not None:
                    oof_nb[te] = self._scores(avg, X[te], len(self.classes_), avg.classes_)
                held[te] = True
            if nb:
                # Keep the NB-SVM average only where it beats the plain SVM out of fold.
                acc_plain = (oof[held].argmax(axis=1) == y[held]).mean()
                acc_nb = (oof_nb[held].argmax(axis=1) == y[held]).mean()
                nb_metrics = {"oof_plain_svm": float(acc_plain), "oof_nb_svm": float(acc_nb)}
                nb = bool(acc_nb > acc_plain)
                if nb:
                    oof = oof_nb
            self.temperature = _fit_temperature(oof[held], y[held])
            self._tune_threshold(_softmax(oof[held], self.temperature), y[held])
            self.train_metrics |= nb_metrics
        else:
            nb = False  # no out-of-fold evidence that the NB-SVM average helps
        step("final model", 0.85)
        plain, avg = _fit_linear(X, y, self.C, nb)
        svm = avg if avg is not None else plain
        self.uses_nb_svm = avg is not None
        # Kept as float32 (features × classes) so one message is a gather + small matmul.
        self.coef_T = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        self.intercept = np.asarray(svm.intercept_, dtype=np.float32)
        self.present = np.asarray(svm.classes_)
        step("done", 1.0)
        return self

    def _wants_vectors(self, labels: Sequence[str]) -> bool:
        """Learned vectors for multi-class sets up to `large` texts: there they add 0.6 points
        on banking77 and out-of-scope recall on clinc150 (0.61 → 0.67). Two-class polarity
        models gained nothing on three review sets (one lost 0.8 points), and on 50k texts they
        add 0.4 points for ~20 s of the 2-minute training budget."""
        return self.learned_vectors and len(set(labels)) > 2 and len(labels) <= self.large

    @staticmethod
    def _scores(svm: _Linear, X: Any, n_classes: int, present: np.ndarray) -> np.ndarray:
        raw = svm.decision_function(X)
        if raw.ndim == 1:  # binary: one score for the positive class
            raw = np.stack([-raw, raw], axis=1)
        out = np.full((X.shape[0], n_classes), -10.0, dtype=np.float32)
        out[:, present] = raw
        return out

    def _tune_threshold(self, probs: np.ndarray, y: np.ndarray) -> None:
        pred = probs.argmax(axis=1)
        top = probs.max(axis=1)
        correct = pred == y
        self.train_metrics = {"oof_accuracy": float(correct.mean())}
        candidates = np.unique(np.round(top, 3))
        if self.oos_label is not None and self.oos_label in self.classes_:
            oos = self.classes_.index(self.oos_label)
            is_oos = y == oos
            base = (correct & (pred != oos))[~is_oos].mean() if (~is_oos).any() else 0.0
            best, best_t = -1.0, 0.0
            for t in candidates:
                accepted = (top >= t) & (pred != oos)
                in_acc = (correct & accepted)[~is_oos].mean() if (~is_oos).any() else 0.0
                oos_rec = (~accepted)[is_oos].mean() if is_oos.any() else 0.0
                # Reject as much out-of-scope as possible while losing at most
                # `max_in_scope_loss` of in-scope accuracy (hand-offs cost less than wrong answers).
                if base - in_acc <= self.max_in_scope_loss and oos_rec > best:
                    best, best_t = float(oos_rec), float(t)
            self.threshold = best_t
            return
        order = np.argsort(-top)
        running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
        ok = np.nonzero(running >= 0.9)[0]
        self.threshold = float(top[order][ok.max()]) if len(ok) else 1.0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, columns in `classes_` order."""
        if self.featurizer is None or self.coef_T is None:
            raise RuntimeError("fit the classifier first")
        norm = [normalize(t) for t in texts]
        if len(norm) == 1 and self.featurizer.embedder is None:
            X = self.featurizer.transform_one(norm[0])
            raw = X.data @ self.coef_T[X.indices] + self.intercept
            raw = raw[None, :]
        else:
            X = self.featurizer.transform(norm)
            raw = np.asarray(X @ self.coef_T) + self.intercept
        if raw.shape[1] == 1:  # binary: one score for the positive class
            raw = np.hstack([-raw, raw])
        scores = np.full((raw.shape[0], len(self.classes_)), -10.0, dtype=np.float32)
        scores[:, self.present] = raw
        return _softmax(scores, self.temperature)

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        probs = self.predict_proba(texts)
        out = []
        for row in probs:
            i = int(row.argmax())
            label = self.classes_[i]
            conf = float(row[i])
            in_scope = conf >= self.threshold and label != self.oos_label
            out.append(Prediction(label, conf, in_scope))
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]
