"""The admin upload page for the script import: CSRF, the same limits as the CLI, a preview that
changes nothing, and nothing applied when any row is bad."""

from __future__ import annotations

import csv
import io

import pytest

from tests.knowledge.test_transfer import counts
from tests.web.login import login
from xiaoer.knowledge import transfer


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(transfer.COLUMNS[:6])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


GOOD = [["", "导入测试一", "售后", "draft", "您好，已为您处理", "怎么退货"]]


@pytest.mark.parametrize(("locale", "word"), [("zh-CN", "预览"), ("en", "Preview")])
def test_preview_then_apply(app_client, demo_shop, database_url, locale, word):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    app_client.cookies.set("lang", locale)
    page = app_client.get("/admin/scripts/import")
    assert page.status_code == 200
    assert word in page.text
    before = counts(database_url, demo_shop.shop_id)

    files = {"file": ("scripts.csv", _csv(GOOD), "text/csv")}
    preview = app_client.post(
        "/admin/scripts/import", data={"csrf_token": csrf, "mode": "preview"}, files=files
    )
    assert preview.status_code == 200, preview.text
    assert 'data-testid="import-preview"' in preview.text
    assert counts(database_url, demo_shop.shop_id) == before  # nothing written, not even audit

    applied = app_client.post(
        "/admin/scripts/import", data={"csrf_token": csrf, "mode": "apply"}, files=files
    )
    assert 'data-testid="import-applied"' in applied.text
    scripts, audits = counts(database_url, demo_shop.shop_id)
    assert scripts == before[0] + 1
    assert audits > before[1]


def test_a_bad_row_lists_its_errors_and_applies_nothing(app_client, demo_shop, database_url):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    before = counts(database_url, demo_shop.shop_id)
    rows = [*GOOD, ["", "", "", "draft", "答案", "问题"], ["", "t", "", "bogus", "a", "q"]]
    response = app_client.post(
        "/admin/scripts/import",
        data={"csrf_token": csrf, "mode": "apply"},
        files={"file": ("s.csv", _csv(rows), "text/csv")},
    )
    assert response.status_code == 422
    assert 'data-testid="import-errors"' in response.text
    assert response.text.count("<li>") >= 2
    assert counts(database_url, demo_shop.shop_id) == before


def test_the_upload_needs_csrf_an_admin_and_a_known_format(app_client, demo_shop):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    files = {"file": ("s.csv", _csv(GOOD), "text/csv")}
    assert app_client.post("/admin/scripts/import", files=files).status_code == 403
    exe = app_client.post(
        "/admin/scripts/import",
        data={"csrf_token": csrf},
        files={"file": ("s.exe", b"MZ", "application/octet-stream")},
    )
    assert exe.status_code == 422
    assert ".exe" in exe.text
    app_client.cookies.clear()
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    assert app_client.get("/admin/scripts/import").status_code == 403


def test_a_million_rows_are_refused_by_the_row_cap(app_client, demo_shop, database_url):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    before = counts(database_url, demo_shop.shop_id)
    body = (",".join(transfer.COLUMNS[:6]) + "\n" + "\n" * 1_000_000).encode()
    response = app_client.post(
        "/admin/scripts/import",
        data={"csrf_token": csrf, "mode": "apply"},
        files={"file": ("rows.csv", body, "text/csv")},
    )
    assert response.status_code == 422
    assert "10000" in response.text
    assert counts(database_url, demo_shop.shop_id) == before
