"""Hostile import files are refused before they cost much; exported cells never run as formulas."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from tests.knowledge.test_transfer import export, import_file, write_csv
from xiaoer.knowledge import transfer


def _zip_bomb(path: Path, inflated_bytes: int) -> Path:
    """A valid-looking XLSX whose sheet XML inflates to `inflated_bytes` of zeros."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(list(transfer.COLUMNS))
    book.save(path)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/padding.xml", "w") as member,
    ):
        block = b"0" * (1 << 20)
        for _ in range(inflated_bytes >> 20):
            member.write(block)
    return path


def test_an_xlsx_zip_bomb_is_refused_from_its_declared_size(demo_shop, database_url, tmp_path):
    bomb = _zip_bomb(tmp_path / "bomb.xlsx", 600 << 20)
    assert bomb.stat().st_size < 1 << 20  # under a megabyte on disk
    with pytest.raises(transfer.ImportFailed, match="expands to more than"):
        import_file(database_url, demo_shop.shop_id, bomb)


def test_a_million_row_csv_is_refused_by_the_row_cap(demo_shop, database_url, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(",".join(transfer.COLUMNS) + "\n" + "\n" * 1_000_000, encoding="utf-8")
    assert path.stat().st_size < 1_100_000
    with pytest.raises(transfer.ImportFailed, match="more than 10000 rows"):
        import_file(database_url, demo_shop.shop_id, path)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = write_csv(tmp_path / "big.csv", [["", "t", "", "draft", "a" * 2000, "q"]] * 10)
    with pytest.raises(transfer.ImportFailed, match="the limit is 1000 bytes"):
        transfer.read_rows(path, transfer.ImportLimits(max_file_bytes=1000))


def test_the_row_cap_counts_xlsx_rows_too(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(list(transfer.COLUMNS))
    for n in range(30):
        book.active.append(["", f"t{n}", "", "draft", "a", "q"])
    book.save(tmp_path / "rows.xlsx")
    _, rows = transfer.read_rows(tmp_path / "rows.xlsx", transfer.ImportLimits(max_rows=20))
    with pytest.raises(transfer.ImportFailed, match="more than 20 rows"):
        list(rows)


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"]


@pytest.mark.parametrize("text", [*FORMULAS, "\t=1", "\r=1", "'=1", "''+1", "'plain", "a=1"])
def test_csv_cell_escaping_round_trips(text):
    escaped = transfer._csv_escape(text)
    assert escaped[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert transfer._csv_unescape(escaped) == text


def test_csv_export_escapes_formula_cells_and_import_restores_them(
    demo_shop, database_url, tmp_path
):
    shop_id = demo_shop.shop_id
    rows = [["", title, "", "draft", title, "问题"] for title in FORMULAS]
    assert import_file(database_url, shop_id, write_csv(tmp_path / "in.csv", rows))["created"] == 4
    exported = export(database_url, shop_id, tmp_path / "out.csv")
    assert {r[1] for r in exported} >= set(FORMULAS)  # read back exactly
    with (tmp_path / "out.csv").open(encoding="utf-8-sig", newline="") as fh:
        raw = list(csv.reader(fh))[1:]
    raw_titles = {r[1] for r in raw}
    for text in FORMULAS:
        assert "'" + text in raw_titles, text
    # No cell of the raw file starts with a character that makes a spreadsheet formula.
    for record in raw:
        for cell in record:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), record
    assert import_file(database_url, shop_id, tmp_path / "out.csv")["updated"] == 0


def test_xlsx_export_stores_formula_like_text_as_text(demo_shop, database_url, tmp_path):
    from openpyxl import load_workbook

    shop_id = demo_shop.shop_id
    rows = [["", title, "", "draft", title, "问题"] for title in FORMULAS]
    import_file(database_url, shop_id, write_csv(tmp_path / "in.csv", rows))
    export(database_url, shop_id, tmp_path / "out.xlsx")
    sheet = load_workbook(tmp_path / "out.xlsx").active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert cells
    assert all(c.data_type != "f" for c in cells)
    assert {c.value for c in cells} >= set(FORMULAS)
