"""Import and export of the script library (issue 3 §3): round trips lose nothing, a bad file
names its bad rows, and a failed import changes nothing."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import in_database
from xiaoer.audit.models import AuditEntry
from xiaoer.audit.service import Actor
from xiaoer.knowledge import service, transfer
from xiaoer.knowledge.models import Script


def in_transaction(database_url, work):
    return in_database(database_url, work)


def export(database_url, shop_id, path: Path) -> list[list[str]]:
    async def work(session):
        return await transfer.export_library(session, shop_id=shop_id, path=path)

    in_transaction(database_url, work)
    header, rows = transfer.read_rows(path)
    assert header == list(transfer.COLUMNS)
    return [cells for _, cells in rows]


def import_file(database_url, shop_id, path: Path) -> dict[str, int]:
    async def work(session):
        summary = await transfer.import_library(
            session, shop_id=shop_id, actor=Actor.system(shop_id), path=path
        )
        return summary.public()

    return in_transaction(database_url, work)


def counts(database_url, shop_id) -> tuple[int, int]:
    """(scripts, audit entries) of the shop."""

    async def work(session):
        scripts = await session.scalar(
            select(func.count(Script.id)).where(Script.shop_id == shop_id)
        )
        audits = await session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.shop_id == shop_id)
        )
        return scripts, audits

    return in_transaction(database_url, work)


def write_csv(path: Path, rows: list[list[str]], header=transfer.COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_import_export_round_trip_loses_nothing(demo_shop, database_url, tmp_path, suffix):
    shop_id = demo_shop.shop_id
    first = export(database_url, shop_id, tmp_path / f"a{suffix}")
    assert len(first) >= 10
    before = counts(database_url, shop_id)
    summary = import_file(database_url, shop_id, tmp_path / f"a{suffix}")
    assert summary == {"created": 0, "updated": 0, "unchanged": len(first)}
    assert counts(database_url, shop_id) == before  # no audit entry for no change
    second = export(database_url, shop_id, tmp_path / f"b{suffix}")
    assert second == first


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_tricky_values_survive_both_formats(demo_shop, database_url, tmp_path, suffix):
    shop_id = demo_shop.shop_id
    answer = '=SUM(1,2) "引号", 逗号\r\n第二行 {order_no}\n\n  缩进 😀 _x0041_ \x01 \t制表'
    path = write_csv(
        tmp_path / "in.csv",
        [["", "0123", "售后/退换货", "published", answer, "问题一\n问题, 二\n=1+1"]],
    )
    assert import_file(database_url, shop_id, path)["created"] == 1
    exported = export(database_url, shop_id, tmp_path / f"out{suffix}")
    row = exported[-1]
    assert row[1:] == ["0123", "售后/退换货", "published", answer, "问题一\n问题, 二\n=1+1"]
    assert import_file(database_url, shop_id, tmp_path / f"out{suffix}")["updated"] == 0


def test_import_creates_updates_and_changes_status(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.csv")
    rows[0][1] = rows[0][1] + "（新）"
    rows[1][3] = "draft" if rows[1][3] == "published" else "published"
    rows[2][5] = rows[2][5] + "\n一个新的问法"
    rows.append(["", "新话术", "咨询/发票", "draft", "发票会在{eta}前开好", "能开发票吗"])
    summary = import_file(database_url, shop_id, write_csv(tmp_path / "b.csv", rows))
    assert summary == {"created": 1, "updated": 3, "unchanged": len(rows) - 4}
    after = export(database_url, shop_id, tmp_path / "c.csv")
    assert after[:-1] == rows[:-1]
    assert after[-1][1:] == rows[-1][1:]

    async def audited(session):
        entries = await session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.shop_id == shop_id, AuditEntry.entity_type == "script"
            )
        )
        return list(entries)

    actions = in_transaction(database_url, audited)
    assert "script.created" in actions
    assert "script.updated" in actions


def test_copy_to_new_scripts_by_clearing_script_ids(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.xlsx")
    copies = [["", *r[1:]] for r in rows]
    summary = import_file(database_url, shop_id, write_csv(tmp_path / "b.csv", copies))
    assert summary["created"] == len(rows)
    again = export(database_url, shop_id, tmp_path / "c.xlsx")
    assert [r[1:] for r in again[len(rows) :]] == [r[1:] for r in rows]


def assert_fails_without_change(database_url, shop_id, path, *expected):
    before = counts(database_url, shop_id)
    with pytest.raises(transfer.ImportFailed) as failed:
        import_file(database_url, shop_id, path)
    for fragment in expected:
        assert fragment in failed.value.message
    assert counts(database_url, shop_id) == before
    return failed.value


def test_missing_column_is_reported(demo_shop, database_url, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["t", "a"]], header=("title", "answer"))
    failed = assert_fails_without_change(database_url, demo_shop.shop_id, path, "questions")
    assert failed.errors[0][0] == 1


def test_bad_row_in_the_middle_applies_nothing(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.csv")
    rows[0][1] = "改过的标题"
    rows.insert(3, ["", "", "", "draft", "answer", "q"])  # empty title → file row 5
    rows.append(["", "新", "", "draft", "hi {nope}", "q"])  # unknown variable
    rows.append(["", "新2", "", "archived", "hi", "q"])
    path = write_csv(tmp_path / "b.csv", rows)
    failed = assert_fails_without_change(
        database_url, shop_id, path, "row 5: title is required", "{nope}", "archived"
    )
    assert [row for row, _ in failed.errors] == [5, len(rows), len(rows) + 1]
    assert export(database_url, shop_id, tmp_path / "c.csv")[0][1] != "改过的标题"


def test_unknown_or_foreign_script_id_applies_nothing(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.csv")
    rows.insert(0, ["", "新的", "", "draft", "answer", "q"])
    rows.insert(2, ["999999999", "x", "", "draft", "answer", "q"])
    path = write_csv(tmp_path / "b.csv", rows)
    assert_fails_without_change(database_url, shop_id, path, "row 4: script_id 999999999")


def test_duplicate_script_id_is_a_bad_row(demo_shop, database_url, tmp_path):
    rows = export(database_url, demo_shop.shop_id, tmp_path / "a.csv")
    rows.append(list(rows[0]))
    path = write_csv(tmp_path / "b.csv", rows)
    assert_fails_without_change(database_url, demo_shop.shop_id, path, "also on row 2")


def test_non_utf8_csv_is_refused(demo_shop, database_url, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("title,answer,questions\n标题,答案,问题\n".encode("gbk"))
    assert_fails_without_change(database_url, demo_shop.shop_id, path, "not UTF-8")


def test_unreadable_xlsx_and_unknown_extension_are_refused(demo_shop, database_url, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    assert_fails_without_change(database_url, demo_shop.shop_id, path, "XLSX")
    with pytest.raises(transfer.DomainError, match="unsupported"):
        transfer.file_format(tmp_path / "a.json")


@pytest.mark.slow
def test_round_trip_of_5000_scripts(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    new = [
        ["", f"话术 {i}", f"咨询/类{i % 7}", "published" if i % 2 else "draft",
         f"第{i}条答案 {{order_no}}\n第二行", f"问法{i}\n问法{i}b"]
        for i in range(5000)
    ]  # fmt: skip
    started = time.monotonic()
    assert (
        import_file(database_url, shop_id, write_csv(tmp_path / "new.csv", new))["created"] == 5000
    )
    first = export(database_url, shop_id, tmp_path / "a.xlsx")
    assert len(first) >= 5000
    assert import_file(database_url, shop_id, tmp_path / "a.xlsx") == {
        "created": 0,
        "updated": 0,
        "unchanged": len(first),
    }
    assert export(database_url, shop_id, tmp_path / "b.csv") == first
    assert time.monotonic() - started < 120


def test_service_validators_match_the_import(demo_shop, database_url, tmp_path):
    """A row the import accepts is one the service accepts (they share the validators)."""
    path = write_csv(tmp_path / "a.csv", [["", " t ", " a / b ", "", " {carrier} ", "q"]])
    assert import_file(database_url, demo_shop.shop_id, path)["created"] == 1

    async def newest(session):
        scripts, _ = await service.list_scripts(session, shop_id=demo_shop.shop_id, q="{carrier}")
        return [(s.title, s.category, s.answer, str(s.status)) for s in scripts]

    assert ("t", "a/b", "{carrier}", "draft") in in_transaction(database_url, newest)
