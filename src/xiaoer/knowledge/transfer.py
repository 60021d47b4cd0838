"""Import and export of a shop's whole script library as XLSX or CSV (see
docs/scripts-import-export.md for the columns).

Import validates every row before it changes anything and then applies the rows through
`service.create_script` / `update_script` / `submit_for_review` / `publish_script` /
`unpublish_script`, so each change is audited and every published row has a version. It never
commits: the caller's transaction makes a failed import leave no trace. Export followed by
import changes nothing, export → import → export gives the same file data, and so does
export → import into a shop with an empty library → export (apart from the new script ids).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit.service import Actor
from xiaoer.errors import DomainError, InvalidInput
from xiaoer.knowledge import service
from xiaoer.knowledge.library import version_content
from xiaoer.knowledge.models import Script, ScriptStatus

# Channel wordings and B variants besides `answer` (the IM wording, variant A).
ANSWER_COLUMNS: dict[str, tuple[str, str]] = {
    "answer_im_b": ("im", "B"),
    "answer_phone": ("phone", "A"),
    "answer_phone_b": ("phone", "B"),
    "answer_email": ("email", "A"),
    "answer_email_b": ("email", "B"),
    "answer_social": ("social", "A"),
    "answer_social_b": ("social", "B"),
}
TRIGGER_COLUMNS: tuple[str, ...] = service.TRIGGER_KEYS
COLUMNS: tuple[str, ...] = (
    *("script_id", "title", "category", "status", "answer", "questions"),
    *ANSWER_COLUMNS,
    *TRIGGER_COLUMNS,
    "bot_enabled",  # last, so files written before it keep their column positions
)
# Accepted spellings of the bot_enabled flag (export writes 1 or 0); an empty cell is 1.
FLAG_VALUES: dict[str, bool] = {
    "1": True,
    "true": True,
    "yes": True,
    "是": True,
    "0": False,
    "false": False,
    "no": False,
    "否": False,
}
REQUIRED_COLUMNS: tuple[str, ...] = ("title", "answer", "questions")
STATUSES: tuple[str, ...] = (
    ScriptStatus.draft.value,
    ScriptStatus.review.value,
    ScriptStatus.published.value,
)
FORMATS: tuple[str, ...] = (".csv", ".xlsx")
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class ImportLimits:
    """What one import may cost. An XLSX file is a zip: a small file can expand to gigabytes, so
    its uncompressed size is checked from the zip directory and again while it is inflated."""

    max_file_bytes: int = 5 * 1024 * 1024
    max_rows: int = 10_000
    max_uncompressed_bytes: int = 50 * 1024 * 1024


DEFAULT_LIMITS = ImportLimits()

Progress = Callable[[int, int], None]
"""Called with (done, total) as rows are written or applied."""


class ImportFailed(InvalidInput):
    """The file is unreadable or some rows are invalid; `errors` holds (row number, reason)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        shown = errors[:MAX_REPORTED_ERRORS]
        lines = [f"row {row}: {reason}" if row else reason for row, reason in shown]
        if len(errors) > len(shown):
            lines.append(f"… and {len(errors) - len(shown)} more bad rows")
        super().__init__("\n".join(lines), code="import_failed")
        self.errors = errors


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def public(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class ScriptRow:
    """One validated row; `row` is its number in the file (the header is row 1)."""

    row: int
    script_id: int | None
    title: str
    category: str
    status: ScriptStatus
    answer: str
    questions: list[str] = field(default_factory=list)
    # Only the columns the file has: a missing column leaves that part of a script as it is.
    answers: dict[tuple[str, str], str | None] = field(default_factory=dict)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    trigger_columns: tuple[str, ...] = ()
    bot_enabled: bool | None = None  # None: the file has no bot_enabled column


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DomainError(f"unsupported file type {path.suffix or '(none)'!r}; use .xlsx or .csv")
    return suffix


# XLSX (XML) cannot hold control characters and turns "\r\n" into "\n". Like Excel, we write
# them as _xHHHH_ and write a literal "_xHHHH_" as "_x005F_xHHHH_", so the round trip is exact.
_XLSX_UNSAFE = re.compile(r"_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b-\x1f\x7f]")
_XLSX_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx_escape(text: str) -> str:
    return _XLSX_UNSAFE.sub(
        lambda m: "_x005F" + m.group() if len(m.group()) > 1 else f"_x{ord(m.group()):04X}_",
        text,
    )


def _xlsx_unescape(text: str) -> str:
    return _XLSX_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


# A spreadsheet program runs a CSV cell starting with = + - @ (or tab/CR before one) as a
# formula. Export prefixes such cells with an apostrophe (shown as text, not as a formula), and
# also cells already starting with apostrophes before such a character, so import can strip
# exactly one apostrophe and the round trip stays exact.
_CSV_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def _csv_escape(value: Any) -> Any:
    if isinstance(value, str) and _CSV_FORMULA.match(value):
        return "'" + value
    return value


def _csv_unescape(text: str) -> str:
    if text.startswith("'") and _CSV_FORMULA.match(text, 1):
        return text[1:]
    return text


# ---------------------------------------------------------------------------------------------
# Export


def _export_row(script: Script) -> list[Any]:
    wordings = {(str(a.channel), a.variant): a.body for a in script.answers}
    triggers = script.triggers or {}
    return [
        script.id,
        script.title,
        script.category,
        str(script.status),
        script.answer,
        "\n".join(q.text for q in script.questions),
        *(wordings.get(key, "") for key in ANSWER_COLUMNS.values()),
        *("\n".join(triggers.get(key) or ()) for key in TRIGGER_COLUMNS),
        1 if script.bot_enabled is not False else 0,
    ]


async def library_rows(session: AsyncSession, *, shop_id: int) -> list[list[Any]]:
    """The shop's scripts (all but retired), oldest first, as export rows without the header."""
    scripts = await session.scalars(
        select(Script)
        .where(Script.shop_id == shop_id, Script.status != ScriptStatus.retired)
        .order_by(Script.id)
    )
    return [_export_row(s) for s in scripts]


def write_rows(path: Path, rows: list[list[Any]], progress: Progress | None = None) -> None:
    """Writes header + rows. CSV is UTF-8 with a BOM (so spreadsheet programs read Chinese);
    XLSX cells are stored as text (an answer starting with "=" is never a formula)."""
    fmt = file_format(path)
    total = len(rows)
    if fmt == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for done, row in enumerate(rows, 1):
                writer.writerow([_csv_escape(value) for value in row])
                if progress:
                    progress(done, total)
        return
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("scripts")
    sheet.append(list(COLUMNS))
    for done, row in enumerate(rows, 1):
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=_xlsx_escape(value))
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)
        if progress:
            progress(done, total)
    book.save(path)


async def export_library(
    session: AsyncSession, *, shop_id: int, path: Path, progress: Progress | None = None
) -> int:
    file_format(path)
    rows = await library_rows(session, shop_id=shop_id)
    write_rows(path, rows, progress)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Import


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_rows(
    path: Path, limits: ImportLimits = DEFAULT_LIMITS
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header, iterator of (row number, cells)) of a CSV or XLSX file; raises ImportFailed when
    the file cannot be read or passes a limit (the row cap is checked as rows stream in)."""
    fmt = file_format(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFailed([(0, f"cannot read {path}: {exc.strerror}")]) from None
    if size > limits.max_file_bytes:
        raise ImportFailed(
            [(0, f"the file is {size} bytes; the limit is {limits.max_file_bytes} bytes")]
        )
    if fmt == ".csv":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                [(0, f"the CSV file is not UTF-8 encoded (byte {exc.start}); save it as UTF-8")]
            ) from None
        except OSError as exc:
            raise ImportFailed([(0, f"cannot read {path}: {exc.strerror}")]) from None
        records = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(records, None)
        except csv.Error as exc:
            raise ImportFailed([(0, f"the CSV file is malformed: {exc}")]) from None
        if header is None:
            raise ImportFailed([(0, "the file is empty")])

        def csv_data() -> Iterator[tuple[int, list[str]]]:
            try:
                for number, cells in enumerate(records, 2):
                    _check_row_cap(number, limits)
                    yield number, [_csv_unescape(c) for c in cells]
            except csv.Error as exc:
                raise ImportFailed([(0, f"the CSV file is malformed: {exc}")]) from None

        return [h.strip() for h in header], csv_data()
    _check_zip(path, limits)
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise ImportFailed([(0, f"cannot read the XLSX file: {exc}")]) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise ImportFailed([(0, "the file is empty")])

    def data() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(rows, 2):
                _check_row_cap(number, limits)
                yield number, [_xlsx_unescape(_cell(v)) for v in values]
        finally:
            book.close()

    return [_cell(h).strip() for h in header], data()


def _check_row_cap(number: int, limits: ImportLimits) -> None:
    # `number` counts the header as row 1.
    if number - 1 > limits.max_rows:
        raise ImportFailed([(0, f"the file has more than {limits.max_rows} rows")])


def _check_zip(path: Path, limits: ImportLimits) -> None:
    """Refuse a zip bomb before openpyxl expands it: the declared sizes first, then the real
    ones while inflating in chunks (a crafted directory can under-declare)."""
    too_big = ImportFailed(
        [(0, f"the XLSX file expands to more than {limits.max_uncompressed_bytes} bytes")]
    )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > limits.max_uncompressed_bytes:
                raise too_big
            inflated = 0
            for member in members:
                with archive.open(member) as stream:
                    while chunk := stream.read(1 << 16):
                        inflated += len(chunk)
                        if inflated > limits.max_uncompressed_bytes:
                            raise too_big
    except ImportFailed:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ImportFailed([(0, f"cannot read the XLSX file: {exc}")]) from None


def _parse_row(
    number: int, cells: list[str], index: dict[str, int]
) -> tuple[ScriptRow | None, str | None]:
    def get(column: str) -> str:
        at = index.get(column)
        return cells[at] if at is not None and at < len(cells) else ""

    try:
        raw_id = get("script_id").strip()
        script_id: int | None = None
        if raw_id:
            if not raw_id.isdigit():
                return None, f"script_id {raw_id!r} is not a number"
            script_id = int(raw_id)
        status_text = get("status").strip() or ScriptStatus.draft.value
        if status_text not in STATUSES:
            return None, f"status {status_text!r} is not one of {', '.join(STATUSES)}"
        bot_enabled: bool | None = None
        if "bot_enabled" in index:
            flag = get("bot_enabled").strip().lower() or "1"
            if flag not in FLAG_VALUES:
                return None, (
                    f"bot_enabled {get('bot_enabled').strip()!r} is not 1 or 0 "
                    "(also accepted: true/false, yes/no, 是/否)"
                )
            bot_enabled = FLAG_VALUES[flag]
        # The service's own validators (same domain), so a row passes here iff the service
        # would accept it: validation of the whole file happens before anything changes.
        title = service.clean_title(get("title"))
        category = service.clean_category(get("category"))
        answer = service.clean_answer(get("answer"))
        questions = service.clean_questions(get("questions").splitlines())
    except DomainError as exc:
        return None, exc.message
    answers: dict[tuple[str, str], str | None] = {}
    triggers: dict[str, list[str]] = {}
    column = ""
    try:
        for column, key in ANSWER_COLUMNS.items():
            if column in index:
                answers.update(service.clean_answers({key: get(column)}))
        for column in TRIGGER_COLUMNS:
            if column in index:
                triggers.update(service.clean_triggers({column: get(column)}))
    except DomainError as exc:
        return None, f"{column}: {exc.message}"
    return (
        ScriptRow(
            row=number,
            script_id=script_id,
            title=title,
            category=category,
            status=ScriptStatus(status_text),
            answer=answer,
            questions=questions,
            answers=answers,
            triggers=triggers,
            trigger_columns=tuple(c for c in TRIGGER_COLUMNS if c in index),
            bot_enabled=bot_enabled,
        ),
        None,
    )


def parse_file(path: Path, limits: ImportLimits = DEFAULT_LIMITS) -> list[ScriptRow]:
    """Every row validated (fully empty rows skipped); ImportFailed lists all bad rows."""
    header, records = read_rows(path, limits)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFailed(
            [(1, f"missing column {', '.join(missing)}; expected {', '.join(COLUMNS)}")]
        )
    index = {name: i for i, name in reversed(list(enumerate(header))) if name in COLUMNS}
    parsed: list[ScriptRow] = []
    errors: list[tuple[int, str]] = []
    seen_ids: dict[int, int] = {}
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        row, error = _parse_row(number, cells, index)
        if row is None:
            errors.append((number, error or "invalid row"))
            continue
        if row.script_id is not None:
            if row.script_id in seen_ids:
                errors.append(
                    (number, f"script_id {row.script_id} also on row {seen_ids[row.script_id]}")
                )
                continue
            seen_ids[row.script_id] = number
        parsed.append(row)
    if errors:
        raise ImportFailed(errors)
    return parsed


def _merged_triggers(script: Script, row: ScriptRow) -> dict[str, list[str]] | None:
    """The script's triggers with the file's trigger columns applied (None: the file has none)."""
    if not row.trigger_columns:
        return None
    kept = {k: v for k, v in (script.triggers or {}).items() if k not in row.trigger_columns}
    return {**kept, **row.triggers}


def _changes_content(script: Script, row: ScriptRow) -> bool:
    """Whether applying the row would change the script's versioned content."""
    current = version_content(script)
    wordings = {(a["channel"], a["variant"]): a["body"] for a in current["answers"]}
    for key, body in row.answers.items():
        if body is None:
            wordings.pop(key, None)
        else:
            wordings[key] = body
    merged = _merged_triggers(script, row)
    wanted = {
        "title": row.title,
        "category": row.category,
        "answer": row.answer,
        "answers": [
            {"channel": c, "variant": v, "body": b} for (c, v), b in sorted(wordings.items())
        ],
        "triggers": merged if merged is not None else current["triggers"],
        "bot_enabled": row.bot_enabled if row.bot_enabled is not None else current["bot_enabled"],
        "questions": row.questions,
    }
    return wanted != current


async def import_rows(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    rows: list[ScriptRow],
    progress: Progress | None = None,
) -> ImportSummary:
    """Applies validated rows: an empty script_id creates, a known one updates. A script_id that
    is not one of the shop's live scripts fails the whole import before anything changes, except
    in a shop whose library is empty (a new installation): there every row is created, since
    ids belong to the installation the file came from."""
    existing = {
        s.id: s
        for s in await session.scalars(
            select(Script).where(Script.shop_id == shop_id, Script.status != ScriptStatus.retired)
        )
    }
    if not existing:
        rows = [dataclasses.replace(r, script_id=None) for r in rows]
    errors = [
        (r.row, f"script_id {r.script_id} is not a script of this shop")
        for r in rows
        if r.script_id is not None and r.script_id not in existing
    ]
    errors += [
        (r.row, f"script_id {r.script_id} is published and unchanged: nothing to review")
        for r in rows
        if r.script_id in existing
        and r.status == ScriptStatus.review
        and existing[r.script_id].status == ScriptStatus.published
        and not _changes_content(existing[r.script_id], r)
    ]
    if errors:
        raise ImportFailed(sorted(errors))
    summary = ImportSummary()
    total = len(rows)
    for done, row in enumerate(rows, 1):
        if row.script_id is None:
            script = await service.create_script(
                session,
                shop_id=shop_id,
                actor=actor,
                title=row.title,
                category=row.category,
                answer=row.answer,
                questions=row.questions,
                answers=row.answers,
                triggers=row.triggers,
                bot_enabled=row.bot_enabled is not False,
                publish=row.status == ScriptStatus.published,
            )
            if row.status == ScriptStatus.review:
                await service.submit_for_review(session, script=script, actor=actor)
            summary.created += 1
        else:
            script = existing[row.script_id]
            before = service.snapshot(script)
            await service.update_script(
                session,
                script=script,
                actor=actor,
                title=row.title,
                category=row.category,
                answer=row.answer,
                questions=row.questions,
                answers=row.answers or None,
                triggers=_merged_triggers(script, row),
                bot_enabled=row.bot_enabled,
            )
            await _apply_status(session, script=script, actor=actor, status=row.status)
            if service.snapshot(script) == before:
                summary.unchanged += 1
            else:
                summary.updated += 1
        if progress:
            progress(done, total)
    return summary


async def _apply_status(
    session: AsyncSession, *, script: Script, actor: Actor, status: ScriptStatus
) -> None:
    """Moves an updated script to the row's status. "draft" withdraws a published script but
    keeps a published version serving behind a draft that is being edited."""
    if status == ScriptStatus.published:
        await service.publish_script(session, script=script, actor=actor)
    elif status == ScriptStatus.review:
        if script.status == ScriptStatus.draft:
            await service.submit_for_review(session, script=script, actor=actor)
    elif script.status == ScriptStatus.published:
        await service.unpublish_script(session, script=script, actor=actor)
    elif script.status == ScriptStatus.review:
        await service.return_to_draft(session, script=script, actor=actor)


async def import_library(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    path: Path,
    progress: Progress | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportSummary:
    """Validates the whole file, then applies it (the caller commits or rolls back)."""
    rows = parse_file(path, limits)
    return await import_rows(session, shop_id=shop_id, actor=actor, rows=rows, progress=progress)
