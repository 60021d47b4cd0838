"""`xiaoer scripts lint|import|export` as the product owner runs them: one JSON object on
stdout, progress and errors on stderr, exit code 2 for bad options and bad files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import postgres_admin_url
from tests.servers import fresh_postgres
from xiaoer.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(db_kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")}
    env["XIAOER_DATA_DIR"] = str(tmp_path / "data")
    if db_kind == "sqlite":
        yield env
        return
    with fresh_postgres(postgres_admin_url()) as url:
        env["XIAOER_DATABASE_URL"] = url
        yield env


def xiaoer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xiaoer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_lint_prints_one_json_object_in_the_promised_shape(cli_env):
    done = xiaoer(
        cli_env, "scripts", "lint", "亲，全网最低价，请您理解", "--category", "complaint", "--angry"
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"blocked", "findings"}
    assert payload["blocked"] is True
    for finding in payload["findings"]:
        assert set(finding) == {"rule", "severity", "start", "end", "message", "suggestion"}
    rules = [(f["rule"], f["start"], f["end"]) for f in payload["findings"]]
    assert ("misleading_claim", 2, 7) in rules
    assert ("angry_banned_phrase", 8, 12) in rules
    assert ("complaint_missing_remedy", 0, 0) in rules


@pytest.mark.parametrize(
    "args",
    [
        ["--category", "refund"],
        ["--role", "boss"],
        ["--angry", "yes"],
    ],
)
def test_lint_bad_option_values_exit_2_with_message_on_stderr(cli_env, args):
    done = xiaoer(cli_env, "scripts", "lint", "hello", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip()


def test_lint_role_and_clean_text_in_process():
    agent = runner.invoke(app, ["scripts", "lint", "赔您200元"])
    assert agent.exit_code == 0
    assert json.loads(agent.stdout)["blocked"] is True
    supervisor = runner.invoke(app, ["scripts", "lint", "赔您200元", "--role", "supervisor"])
    assert json.loads(supervisor.stdout) == {"blocked": False, "findings": []}
    warn = runner.invoke(app, ["scripts", "lint", "可能明天处理", "--category", "after_sale"])
    payload = json.loads(warn.stdout)
    assert payload["blocked"] is False
    assert [f["severity"] for f in payload["findings"]] == ["warn"]


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_export_import_round_trip_and_failed_import_changes_nothing(cli_env, tmp_path):
    assert xiaoer(cli_env, "seed").returncode == 0

    exported = xiaoer(cli_env, "scripts", "export", str(tmp_path / "a.xlsx"))
    assert exported.returncode == 0, exported.stderr
    n = json.loads(exported.stdout)["exported"]
    assert n > 10

    imported = xiaoer(cli_env, "scripts", "import", str(tmp_path / "a.xlsx"), "--shop", "demo")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"created": 0, "updated": 0, "unchanged": n}
    assert "importing" in imported.stderr  # the progress bar

    assert xiaoer(cli_env, "scripts", "export", str(tmp_path / "b.csv")).returncode == 0
    rows = _rows(tmp_path / "b.csv")
    rows[1][1] = "改过的标题"
    rows.insert(4, ["", "", "", "draft", "答案", "问题"])  # file row 5: no title
    with (tmp_path / "c.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    failed = xiaoer(cli_env, "scripts", "import", str(tmp_path / "c.csv"))
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert "row 5" in failed.stderr
    assert "title is required" in failed.stderr

    assert xiaoer(cli_env, "scripts", "export", str(tmp_path / "d.csv")).returncode == 0
    assert _rows(tmp_path / "d.csv") == _rows(tmp_path / "b.csv")


def test_bad_files_and_unknown_shop_exit_2(cli_env, tmp_path):
    assert xiaoer(cli_env, "seed").returncode == 0
    wrong_type = xiaoer(cli_env, "scripts", "export", str(tmp_path / "a.json"))
    assert wrong_type.returncode == 2
    assert "unsupported" in wrong_type.stderr
    missing = xiaoer(cli_env, "scripts", "import", str(tmp_path / "missing.csv"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    no_shop = xiaoer(cli_env, "scripts", "export", str(tmp_path / "a.csv"), "--shop", "nope")
    assert no_shop.returncode == 2
    assert "no shop" in no_shop.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("title,answer\nt,a\n", encoding="utf-8")
    no_column = xiaoer(cli_env, "scripts", "import", str(bad))
    assert no_column.returncode == 2
    assert "missing column questions" in no_column.stderr
