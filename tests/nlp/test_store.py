import os
import threading
import time
from pathlib import Path

import pytest

from xiaoer.nlp.store import (
    ModelNotFoundError,
    ModelRegistry,
    check_name,
    data_hash,
    load_model,
    read_manifest,
    save_model,
)


def test_save_and_load_roundtrip_with_manifest(tmp_path: Path) -> None:
    m = save_model(
        "intent",
        "shop",
        {"w": [1, 2]},
        data_hash=data_hash([["a", "b"]]),
        metrics={"acc": 0.9},
        models_dir=tmp_path,
    )
    model, manifest = load_model("intent", "shop", models_dir=tmp_path)
    assert model == {"w": [1, 2]}
    assert manifest == m
    assert manifest.data_hash.startswith("sha256:")
    assert manifest.metrics == {"acc": 0.9}
    assert manifest.created_at
    assert read_manifest("intent", "shop", models_dir=tmp_path).version == m.version


def test_retrain_swaps_atomically_and_removes_old_version(tmp_path: Path) -> None:
    save_model("intent", "shop", "v1", data_hash="1", models_dir=tmp_path)
    registry = ModelRegistry(tmp_path)
    assert registry.get("intent", "shop") == "v1"
    stop = threading.Event()
    seen: set[str] = set()

    def reader() -> None:
        while not stop.is_set():
            seen.add(registry.get("intent", "shop"))
            time.sleep(0.0005)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(2, 6):
        save_model("intent", "shop", f"v{i}", data_hash=str(i), models_dir=tmp_path)
    stop.set()
    t.join()
    assert None not in seen  # a reader never saw a missing or half-written model
    assert registry.get("intent", "shop") == "v5"
    versions = os.listdir(tmp_path / "intent" / ".versions" / "shop")
    assert len(versions) == 2  # the current one and the one it replaced


def test_missing_model_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        load_model("intent", "nope", models_dir=tmp_path)
    assert ModelRegistry(tmp_path).get("intent", "nope") is None
    for bad in ["../x", "", "a/b", ".hidden"]:
        with pytest.raises(ValueError, match="invalid model name"):
            check_name(bad)


def test_data_hash_is_order_sensitive() -> None:
    assert data_hash([["a", "b"], ["c", "d"]]) != data_hash([["c", "d"], ["a", "b"]])
    assert data_hash([["ab", ""]]) != data_hash([["a", "b"]])
