"""Import and export of the script library (issue 3 §3): round trips lose nothing, a bad file
names its bad rows, and a failed import changes nothing."""

from __future__ import annotations

import csv
import uuid
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


BASE = 6  # script_id, title, category, status, answer, questions
FLAG = transfer.COLUMNS.index("bot_enabled")


def write_csv(path: Path, rows: list[list[str]], header=None) -> Path:
    """Rows of the six base columns are written under just those columns (the file then leaves
    channel wordings and triggers alone); longer rows under all columns."""
    if header is None:
        header = transfer.COLUMNS if rows and len(rows[0]) > BASE else transfer.COLUMNS[:BASE]
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
    flags = [r[FLAG] for r in first]
    assert set(flags) == {"1", "0"}  # the demo's calming pack is agents-only
    before = counts(database_url, shop_id)
    summary = import_file(database_url, shop_id, tmp_path / f"a{suffix}")
    assert summary == {"created": 0, "updated": 0, "unchanged": len(first)}
    assert counts(database_url, shop_id) == before  # no audit entry for no change
    second = export(database_url, shop_id, tmp_path / f"b{suffix}")
    assert second == first

    # Into a new installation: the flag survives in the scripts and in what is served.
    target = empty_shop(database_url)
    assert import_file(database_url, target, tmp_path / f"b{suffix}")["created"] == len(first)
    again = export(database_url, target, tmp_path / f"c{suffix}")
    assert [r[1:] for r in again] == [r[1:] for r in first]
    served = in_transaction(database_url, lambda s: served_flags(s, target))
    published = [r for r in again if r[3] == "published"]
    assert served == {int(r[0]): r[FLAG] == "1" for r in published}
    assert False in served.values()


async def served_flags(session, shop_id) -> dict[int, bool]:
    from xiaoer.knowledge.library import list_published

    return {s.id: s.bot_enabled for s in await list_published(session, shop_id=shop_id)}


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
    assert row[1:BASE] == ["0123", "售后/退换货", "published", answer, "问题一\n问题, 二\n=1+1"]
    # A file without the bot_enabled column creates bot-enabled scripts.
    assert row[BASE:] == [""] * (FLAG - BASE) + ["1"]
    assert import_file(database_url, shop_id, tmp_path / f"out{suffix}")["updated"] == 0


def test_import_creates_updates_and_changes_status(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.csv")
    rows[0][1] = rows[0][1] + "（新）"
    rows[1][3] = "draft" if rows[1][3] == "published" else "published"
    rows[2][5] = rows[2][5] + "\n一个新的问法"
    rows[3][FLAG] = "0" if rows[3][FLAG] == "1" else "1"
    new = ["", "新话术", "咨询/发票", "draft", "发票会在{eta}前开好", "能开发票吗"]
    rows.append(new + [""] * (FLAG - BASE) + ["0"])
    summary = import_file(database_url, shop_id, write_csv(tmp_path / "b.csv", rows))
    assert summary == {"created": 1, "updated": 4, "unchanged": len(rows) - 5}
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


def empty_shop(database_url) -> int:
    """A new shop without any script (a fresh installation's library)."""
    from xiaoer.shops.models import Shop

    async def work(session):
        shop = Shop(slug=f"empty-{uuid.uuid4().hex[:8]}", name="空店")
        session.add(shop)
        await session.flush()
        return shop.id

    return in_transaction(database_url, work)


def full_row(i: int) -> list[str]:
    """A new-script row using every column: channel wordings, B variants, triggers, statuses."""
    status = ("draft", "review", "published")[i % 3]
    wordings = [
        f"B{i} {{order_no}}" if i % 4 == 0 else "",
        f"您好，这里是店小二。第一步，核对订单 {{order_no}}；第二步，方案{i}。" if i % 2 else "",
        "",
        f"尊敬的{{customer_name}}：\n第{i}条邮件答复。\n此致" if i % 5 == 0 else "",
        "",
        f"公开回复 {i}，请私信我们" if i % 3 == 0 else "",
        "",
    ]
    triggers = [
        f"查物流{i % 9}" if i % 2 else "",
        f"快递\n物流{i % 5}",
        "VIP" if i % 7 == 0 else "",
        "im\nphone" if i % 6 == 0 else "",
        "anger\nnegative" if i % 8 == 0 else "",
    ]
    bot_enabled = "0" if i % 5 == 1 else "1"  # some agents-only scripts
    return [
        "",
        f"话术 {i}",
        f"咨询/类{i % 7}",
        status,
        f"第{i}条答案 {{order_no}}\n第二行",
        f"问法{i}\n问法{i}b",
        *wordings,
        *triggers,
        bot_enabled,
    ]


@pytest.mark.slow
def test_round_trip_of_5000_scripts_also_into_an_empty_shop(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    new = [full_row(i) for i in range(5000)]
    created = import_file(database_url, shop_id, write_csv(tmp_path / "new.csv", new))
    assert created["created"] == 5000
    first = export(database_url, shop_id, tmp_path / "a.xlsx")
    assert len(first) >= 5000
    assert [r[1:] for r in first[-5000:]] == [r[1:] for r in new]
    assert import_file(database_url, shop_id, tmp_path / "a.xlsx") == {
        "created": 0,
        "updated": 0,
        "unchanged": len(first),
    }
    assert export(database_url, shop_id, tmp_path / "b.csv") == first

    # A new installation: the ids in the file are not this shop's, every row is created.
    target = empty_shop(database_url)
    restored = import_file(database_url, target, tmp_path / "b.csv")
    assert restored == {"created": len(first), "updated": 0, "unchanged": 0}
    again = export(database_url, target, tmp_path / "c.xlsx")
    assert [r[1:] for r in again] == [r[1:] for r in first]
    assert {r[0] for r in again}.isdisjoint({r[0] for r in first})


def test_service_validators_match_the_import(demo_shop, database_url, tmp_path):
    """A row the import accepts is one the service accepts (they share the validators)."""
    path = write_csv(tmp_path / "a.csv", [["", " t ", " a / b ", "", " {carrier} ", "q"]])
    assert import_file(database_url, demo_shop.shop_id, path)["created"] == 1

    async def newest(session):
        scripts, _ = await service.list_scripts(session, shop_id=demo_shop.shop_id, q="{carrier}")
        return [(s.title, s.category, s.answer, str(s.status)) for s in scripts]

    assert ("t", "a/b", "{carrier}", "draft") in in_transaction(database_url, newest)


def test_wordings_triggers_and_review_status_round_trip(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    rows = [full_row(i) for i in range(12)]
    assert import_file(database_url, shop_id, write_csv(tmp_path / "a.csv", rows))["created"] == 12
    exported = export(database_url, shop_id, tmp_path / "b.xlsx")
    assert [r[1:] for r in exported[-12:]] == [r[1:] for r in rows]
    statuses = [r[3] for r in exported[-12:]]
    assert statuses.count("review") == 4

    async def published_versions(session):
        from xiaoer.knowledge.models import ScriptVersion

        ids = [int(r[0]) for r in exported[-12:] if r[3] == "published"]
        found = await session.scalars(
            select(ScriptVersion.script_id).where(ScriptVersion.script_id.in_(ids))
        )
        return ids, sorted(found)

    ids, with_version = in_transaction(database_url, published_versions)
    assert sorted(ids) == with_version  # imported published rows went through publishing


def test_a_file_without_the_new_columns_leaves_wordings_and_triggers_alone(
    demo_shop, database_url, tmp_path
):
    shop_id = demo_shop.shop_id
    import_file(database_url, shop_id, write_csv(tmp_path / "a.csv", [full_row(6)]))
    full = export(database_url, shop_id, tmp_path / "b.csv")[-1]
    assert full[transfer.COLUMNS.index("answer_social")]
    assert full[transfer.COLUMNS.index("channels")] == "im\nphone"
    assert full[FLAG] == "0"
    base_only = [full[:BASE]]
    base_only[0][1] = "只改标题"
    summary = import_file(database_url, shop_id, write_csv(tmp_path / "c.csv", base_only))
    assert summary["updated"] == 1
    after = export(database_url, shop_id, tmp_path / "d.csv")[-1]
    assert after[1] == "只改标题"
    assert after[BASE:] == full[BASE:]
    # With the columns present but empty, they are cleared (an empty flag is the default, 1).
    cleared = [full[:BASE] + [""] * (len(transfer.COLUMNS) - BASE)]
    import_file(database_url, shop_id, write_csv(tmp_path / "e.csv", cleared))
    emptied = export(database_url, shop_id, tmp_path / "f.csv")[-1]
    assert emptied[BASE:] == [""] * (FLAG - BASE) + ["1"]


def test_bad_wording_and_trigger_cells_name_row_and_column(demo_shop, database_url, tmp_path):
    rows = [full_row(i) for i in range(4)]
    rows[1][transfer.COLUMNS.index("answer_phone")] = "您好 {coupon}"
    rows[2][transfer.COLUMNS.index("emotions")] = "furious"
    rows[3][transfer.COLUMNS.index("channels")] = "fax"
    path = write_csv(tmp_path / "bad.csv", rows)
    failed = assert_fails_without_change(
        database_url,
        demo_shop.shop_id,
        path,
        "row 3: answer_phone: unknown variable {coupon}",
        "row 4: emotions: unknown emotion 'furious'",
        "row 5: channels: unknown channel 'fax'",
    )
    assert [row for row, _ in failed.errors] == [3, 4, 5]


def test_review_of_an_unchanged_published_script_is_a_bad_row(demo_shop, database_url, tmp_path):
    rows = export(database_url, demo_shop.shop_id, tmp_path / "a.csv")
    assert rows[0][3] == "published"
    rows[0][3] = "review"
    path = write_csv(tmp_path / "b.csv", rows)
    assert_fails_without_change(database_url, demo_shop.shop_id, path, "row 2: script_id")
    rows[0][4] = rows[0][4] + "（修订）"
    assert import_file(database_url, demo_shop.shop_id, write_csv(tmp_path / "c.csv", rows)) == {
        "created": 0,
        "updated": 1,
        "unchanged": len(rows) - 1,
    }
    after = export(database_url, demo_shop.shop_id, tmp_path / "d.csv")
    assert after[0][3] == "review"
    # Back to draft from review, and the published version still serves behind the draft.
    rows[0][3] = "draft"
    import_file(database_url, demo_shop.shop_id, write_csv(tmp_path / "e.csv", rows))
    assert export(database_url, demo_shop.shop_id, tmp_path / "f.csv")[0][3] == "draft"

    async def served(session):
        from xiaoer.knowledge.library import list_published

        return {s.id for s in await list_published(session, shop_id=demo_shop.shop_id)}

    assert int(rows[0][0]) in in_transaction(database_url, served)


def test_bot_enabled_column_spellings_and_bad_values(demo_shop, database_url, tmp_path):
    shop_id = demo_shop.shop_id
    spellings = ["true", "FALSE", " yes ", "No", "是", "否", "1", "0", ""]
    rows = [[*full_row(i)[:FLAG], flag] for i, flag in enumerate(spellings)]
    created = import_file(database_url, shop_id, write_csv(tmp_path / "a.csv", rows))
    assert created["created"] == len(spellings)
    exported = export(database_url, shop_id, tmp_path / "b.csv")[-len(spellings) :]
    assert [r[FLAG] for r in exported] == ["1", "0", "1", "0", "1", "0", "1", "0", "1"]

    bad = [[*full_row(i)[:FLAG], flag] for i, flag in enumerate(["1", "maybe", "0", "2"])]
    failed = assert_fails_without_change(
        database_url,
        shop_id,
        write_csv(tmp_path / "bad.csv", bad),
        "row 3: bot_enabled 'maybe' is not 1 or 0",
        "row 5: bot_enabled '2'",
    )
    assert [row for row, _ in failed.errors] == [3, 5]


def test_turning_the_bot_off_by_import_republishes_a_published_script(
    demo_shop, database_url, tmp_path
):
    shop_id = demo_shop.shop_id
    rows = export(database_url, shop_id, tmp_path / "a.xlsx")
    at = next(i for i, r in enumerate(rows) if r[3] == "published" and r[FLAG] == "1")
    sid = int(rows[at][0])
    rows[at][FLAG] = "否"
    summary = import_file(database_url, shop_id, write_csv(tmp_path / "b.csv", rows))
    assert summary == {"created": 0, "updated": 1, "unchanged": len(rows) - 1}
    assert export(database_url, shop_id, tmp_path / "c.csv")[at][FLAG] == "0"
    assert in_transaction(database_url, lambda s: served_flags(s, shop_id))[sid] is False
