"""Reading labelled CSV files strictly: UTF-8, required columns, at least one row.

Every problem raises `InputError` with a message meant for the person running the command.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


class InputError(ValueError):
    """The input file cannot be used; the message says why and where."""


def read_rows(path: Path | str, columns: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV with a header containing `columns` (extra columns are ignored)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        content = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc
    if not content.strip():
        raise InputError(f"{p}: the file is empty")
    reader = csv.DictReader(content.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"{p}: missing column(s) {', '.join(missing)}; expected header "
            f"{','.join(columns)} (found {','.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        rows.append({c: (row.get(c) or "").strip() for c in columns})
    if not rows:
        raise InputError(f"{p}: no data rows after the header")
    return rows


def read_labelled(path: Path | str) -> tuple[list[str], list[str]]:
    """`text,label` rows → (texts, labels); every label must be non-empty."""
    rows = read_rows(path, ("text", "label"))
    for i, row in enumerate(rows, start=2):
        if not row["label"]:
            raise InputError(f"{path}: line {i}: empty label")
    return [r["text"] for r in rows], [r["label"] for r in rows]


def read_pairs(path: Path | str) -> tuple[list[str], list[str], list[int]]:
    """`text_a,text_b,label` rows with label 0 or 1."""
    rows = read_rows(path, ("text_a", "text_b", "label"))
    labels = []
    for i, row in enumerate(rows, start=2):
        if row["label"] not in ("0", "1"):
            raise InputError(f"{path}: line {i}: label must be 0 or 1, got {row['label']!r}")
        labels.append(int(row["label"]))
    return [r["text_a"] for r in rows], [r["text_b"] for r in rows], labels


def read_library(path: Path | str) -> list[tuple[str, list[str]]]:
    """`script_id,question` rows grouped by script, in first-seen order."""
    rows = read_rows(path, ("script_id", "question"))
    grouped: dict[str, list[str]] = {}
    for i, row in enumerate(rows, start=2):
        if not row["script_id"]:
            raise InputError(f"{path}: line {i}: empty script_id")
        grouped.setdefault(row["script_id"], []).append(row["question"])
    return list(grouped.items())


def read_queries(path: Path | str) -> tuple[list[str], list[str]]:
    """`text,script_id` rows; an empty script_id means the query must not be answered."""
    rows = read_rows(path, ("text", "script_id"))
    return [r["text"] for r in rows], [r["script_id"] for r in rows]
