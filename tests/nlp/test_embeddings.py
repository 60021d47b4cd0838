"""Optional embeddings: plumbing with a fake embedder and a local fake OpenAI-style endpoint."""

import json
import pickle
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from xiaoer.nlp import ScriptMatcher, TextClassifier
from xiaoer.nlp.embeddings import OpenAIEmbedder, embedder_from_setting


class FakeEmbedder:
    """Bag-of-letters vectors: deterministic, no model files."""

    spec = None  # not reloadable: pickles drop it

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


LIBRARY = [
    ("refund", ["how do i get a refund", "i want my money back", "refund please", "refund status"]),
    ("card", ["my card is lost", "block my card", "card stolen", "freeze my card"]),
    ("balance", ["what is my balance", "show my balance", "how much money do i have", "balance"]),
]


def test_matcher_with_embedder_ranks_and_pickles() -> None:
    m = ScriptMatcher.build(LIBRARY, embedder=FakeEmbedder())
    assert m.search("i lost my card")[0].script_id == "card"
    clone = pickle.loads(pickle.dumps(m))
    assert clone.search("what's my balance")[0].script_id == "balance"


def test_classifier_with_embedder() -> None:
    texts = [t for _, ts in LIBRARY for t in ts] * 2
    labels = [s for s, ts in LIBRARY for _ in ts] * 2
    model = TextClassifier(embedder=FakeEmbedder()).fit(texts, labels)
    assert model.predict("block the card").label == "card"


def test_setting_off_means_no_embedder() -> None:
    assert embedder_from_setting(None) is None
    assert embedder_from_setting("off") is None


@pytest.fixture
def fake_endpoint() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            data = [
                {"index": i, "embedding": [float(len(t)), 1.0, 0.0]}
                for i, t in enumerate(body["input"])
            ]
            payload = json.dumps({"data": data[::-1], "model": body["model"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_compatible_endpoint(fake_endpoint: str) -> None:
    emb = OpenAIEmbedder(fake_endpoint, "fake-model")
    vecs = emb.encode(["a", "abc"])
    assert vecs.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert vecs[1, 0] > vecs[0, 0]  # order restored from the "index" field
