"""Token vectors learned from the training texts alone (no pretrained weights).

Positive pointwise mutual information of co-occurrences within a small window, reduced by a
truncated SVD (Levy & Goldberg 2014: on small corpora as good as word2vec). Tokens that occur in
the same contexts — 花呗/借呗 or 慢/迟 — get close vectors, which lexical features cannot see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD


class CooccurrenceVectors:
    """Unit-length vectors for the tokens seen at least `min_count` times."""

    def __init__(self, index: dict[str, int], vectors: np.ndarray) -> None:
        self.index = index
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def fit(
        cls,
        sentences: Sequence[Sequence[str]],
        *,
        dim: int = 100,
        window: int = 3,
        min_count: int = 2,
        alpha: float = 0.75,
        max_vocab: int | None = None,
    ) -> CooccurrenceVectors:
        """`max_vocab` keeps only the most frequent tokens (bounds the model's memory)."""
        counts = Counter(t for s in sentences for t in s)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: -counts[t])
        vocab = sorted(kept[:max_vocab] if max_vocab is not None else kept)
        index = {t: i for i, t in enumerate(vocab)}
        n = len(vocab)
        if n <= 2:
            return cls(index, np.zeros((n, 1), dtype=np.float32))
        rows: list[int] = []
        cols: list[int] = []
        for s in sentences:
            ids = [index.get(t, -1) for t in s]
            for i, u in enumerate(ids):
                if u < 0:
                    continue
                for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                    if j != i and ids[j] >= 0:
                        rows.append(u)
                        cols.append(ids[j])
        m = sp.coo_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n, n))
        m.sum_duplicates()
        total = float(m.sum()) or 1.0
        row_sum = np.asarray(m.sum(axis=1)).ravel()
        # Context counts raised to 0.75 (smoothing from word2vec): rare contexts get less PMI.
        ctx = np.asarray(m.sum(axis=0)).ravel() ** alpha
        ctx = ctx / max(ctx.sum(), 1e-12) * total
        pmi = np.log(m.data * total / (row_sum[m.row] * ctx[m.col] + 1e-12))
        keep = pmi > 0
        ppmi = sp.csr_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=(n, n))
        k = max(1, min(dim, n - 1))
        u = TruncatedSVD(n_components=k, random_state=0).fit_transform(ppmi)
        u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-9
        return cls(index, u.astype(np.float32))

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Vectors of the known tokens (rows), in order; unknown tokens are skipped."""
        ids = [self.index[t] for t in tokens if t in self.index]
        return self.vectors[ids]

    def mean(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Unit-length mean vector per text (zeros when no token is known)."""
        out = np.zeros((len(token_lists), self.dim), dtype=np.float32)
        for i, tokens in enumerate(token_lists):
            v = self.lookup(tokens)
            if len(v):
                m = v.mean(axis=0)
                out[i] = m / (np.linalg.norm(m) + 1e-9)
        return out
