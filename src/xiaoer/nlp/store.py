"""Named models on disk and in memory: `models/<task>/<name>` → one immutable version directory.

Layout under `models_dir`:

    <task>/<name>                       symlink → .versions/<name>/<version>
    <task>/.versions/<name>/<version>/  model.pkl + manifest.json (version, data hash, metrics …)

A save writes a fresh version directory, then replaces the symlink with `os.replace`, which is
atomic on POSIX: a reader sees the old model or the new one, never half of one. The version
just replaced is kept (a reader may be opening it); older ones are removed after the swap.
`ModelRegistry` keeps loaded models in memory and reloads a model when its symlink points to a
new version (one `readlink` per lookup).

Model files are pickles written by this module; only load models from a directory you control.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xiaoer.config import get_settings

FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModelNotFoundError(LookupError):
    """No saved model of that task and name."""


@dataclass(frozen=True)
class Manifest:
    task: str
    name: str
    version: str
    data_hash: str
    metrics: dict[str, Any]
    created_at: str
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2, sort_keys=True)


def check_name(name: str) -> str:
    """Model names become path components: letters, digits, `_.-`, at most 64 characters."""
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid model name {name!r}: use letters, digits, '_', '.', '-'")
    return name


def data_hash(rows: Iterable[Iterable[str]]) -> str:
    """SHA-256 of training rows (order-sensitive), recorded in the manifest."""
    h = hashlib.sha256()
    for row in rows:
        for cell in row:
            h.update(cell.encode("utf-8"))
            h.update(b"\x1f")
        h.update(b"\x1e")
    return "sha256:" + h.hexdigest()


def _root(models_dir: Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else get_settings().models_dir


def save_model(
    task: str,
    name: str,
    model: Any,
    *,
    data_hash: str,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    models_dir: Path | None = None,
) -> Manifest:
    """Write `model` as a new version of `<task>/<name>` and switch to it atomically."""
    check_name(name)
    task_dir = _root(models_dir) / task
    versions = task_dir / ".versions" / name
    versions.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    manifest = Manifest(
        task=task,
        name=name,
        version=version,
        data_hash=data_hash,
        metrics=metrics or {},
        created_at=now.isoformat(),
        extra=extra,
    )
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        with (tmp / "model.pkl").open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        (tmp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        final = versions / version
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = task_dir / name
    tmp_link = task_dir / f".{name}.link-{version}"
    tmp_link.symlink_to(Path(".versions") / name / version)
    os.replace(tmp_link, link)  # the atomic swap
    # Keep the version just replaced (a reader may be loading it right now); drop older ones.
    done = sorted(v.name for v in versions.iterdir() if not v.name.startswith(".tmp-"))
    for old in done[:-2]:
        shutil.rmtree(versions / old, ignore_errors=True)
    return manifest


def model_path(task: str, name: str, *, models_dir: Path | None = None) -> Path:
    """The version directory `<task>/<name>` currently points to."""
    check_name(name)
    link = _root(models_dir) / task / name
    if not link.exists():
        raise ModelNotFoundError(f"no {task} model named {name!r} in {link.parent}")
    return link.resolve()


def read_manifest(task: str, name: str, *, models_dir: Path | None = None) -> Manifest:
    data = json.loads((model_path(task, name, models_dir=models_dir) / "manifest.json").read_text())
    return Manifest(**data)


def load_model(task: str, name: str, *, models_dir: Path | None = None) -> tuple[Any, Manifest]:
    """Unpickle the current version of `<task>/<name>` (trusted local file)."""
    path = model_path(task, name, models_dir=models_dir)
    manifest = Manifest(**json.loads((path / "manifest.json").read_text()))
    with (path / "model.pkl").open("rb") as fh:
        model = pickle.load(fh)  # noqa: S301 - our own file in the operator's models directory
    return model, manifest


class ModelRegistry:
    """Loaded models held in memory, reloaded when a newer version is saved.

    `get` costs one `readlink` when the model is already loaded; the swap of the in-memory
    reference is a single assignment, so concurrent readers see the old or the new model.
    """

    def __init__(self, models_dir: Path | None = None) -> None:
        self._models_dir = models_dir
        self._loaded: dict[tuple[str, str], tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, task: str, name: str) -> Any | None:
        """The model, or None when none is saved under that name."""
        link = _root(self._models_dir) / task / name
        cached = self._loaded.get((task, name))
        for _ in range(3):  # a concurrent save may remove the version between readlink and open
            try:
                target = os.readlink(link)
            except OSError:
                return cached[1] if cached is not None else None
            if cached is not None and cached[0] == target:
                return cached[1]
            try:
                with (link.parent / target / "model.pkl").open("rb") as fh:
                    model = pickle.load(fh)  # noqa: S301 - our own file, see module docstring
            except FileNotFoundError:
                continue
            with self._lock:
                self._loaded[(task, name)] = (target, model)
            return model
        return cached[1] if cached is not None else None

    def put(self, task: str, name: str, model: Any) -> None:
        """Swap in a model trained in this process (after `save_model`)."""
        link = _root(self._models_dir) / task / name
        try:
            target = os.readlink(link)
        except OSError:
            target = ""
        self._loaded[(task, name)] = (target, model)
