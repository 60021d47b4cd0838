"""The `xiaoer nlp` contract: one JSON object on stdout, exit 2 + stderr message on bad input."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xiaoer.cli import app
from xiaoer.config import get_settings

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    monkeypatch.setenv("XIAOER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        result = runner.invoke(app, ["nlp", *map(str, args)])
        return result.exit_code, result.stdout, result.stderr

    yield invoke
    get_settings.cache_clear()


def one_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    return json.loads(lines[0])


def test_intent_train_then_eval_with_oos(run, tmp_path: Path) -> None:
    code, out, _ = run("train", "intent", DATA / "intent_train.csv", "--name", "shop")
    assert code == 0
    assert one_json(out)["name"] == "shop"
    assert (tmp_path / "models" / "intent" / "shop" / "manifest.json").is_file()
    code, out, _ = run(
        "eval", "intent", DATA / "intent_test.csv", "--name", "shop", "--oos-label", "oos"
    )
    assert code == 0
    result = one_json(out)
    assert {"n", "accuracy", "macro_f1", "oos_recall", "p50_ms", "p99_ms"} <= result.keys()
    assert result["n"] == 23


def test_intent_eval_without_oos_label_omits_oos_recall(run) -> None:
    run("train", "intent", DATA / "intent_train.csv", "--name", "shop")
    code, out, _ = run("eval", "intent", DATA / "intent_train.csv", "--name", "shop")
    assert code == 0
    result = one_json(out)
    assert "oos_recall" not in result
    assert result["accuracy"] >= 0.9


def test_match_train_with_dev_and_eval(run) -> None:
    code, out, _ = run(
        "train", "match", DATA / "pairs_train.csv", "--name", "m", "--dev", DATA / "pairs_dev.csv"
    )
    assert code == 0
    assert "threshold" in one_json(out)
    code, out, _ = run("eval", "match", DATA / "pairs_test.csv", "--name", "m")
    assert code == 0
    assert set(one_json(out)) == {"n", "accuracy", "f1", "p50_ms", "p99_ms"}


def test_retrieval_eval(run) -> None:
    code, out, _ = run(
        "eval", "retrieval", DATA / "retrieval_library.csv", DATA / "retrieval_queries.csv"
    )
    assert code == 0
    result = one_json(out)
    assert set(result) == {
        "n",
        "top1",
        "top3",
        "mrr",
        "answer_rate",
        "precision_when_answered",
        "p50_ms",
        "p99_ms",
    }
    assert result["top1"] >= 0.8
    code, out, _ = run(
        "eval",
        "retrieval",
        DATA / "retrieval_library.csv",
        DATA / "retrieval_queries.csv",
        "--threshold",
        "2",
    )
    assert one_json(out)["answer_rate"] == 0.0


def test_emotion_train_and_eval(run) -> None:
    code, out, _ = run("train", "emotion", DATA / "emotion_train.csv", "--name", "default")
    assert code == 0
    code, out, _ = run("eval", "emotion", DATA / "emotion_test.csv", "--name", "default")
    assert code == 0
    assert set(one_json(out)) == {"n", "accuracy", "macro_f1", "p50_ms", "p99_ms"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "intent", DATA / "bad_missing_column.csv"), "missing column"),
        (("eval", "intent", DATA / "bad_empty.csv"), "empty"),
        (("eval", "intent", DATA / "bad_header_only.csv"), "no data rows"),
        (("eval", "intent", DATA / "bad_gbk.csv"), "UTF-8"),
        (("eval", "intent", DATA / "bad_unknown_label.csv"), "real_estate"),
        (("eval", "intent", DATA / "no_such_file.csv"), "no such file"),
        (("train", "intent", DATA / "bad_gbk.csv"), "UTF-8"),
        (("train", "emotion", DATA / "intent_train.csv"), "label"),
        (("eval", "emotion", DATA / "intent_test.csv"), "label"),
        (("train", "match", DATA / "intent_train.csv"), "missing column"),
        (("eval", "match", DATA / "pairs_test.csv", "--name", "nope"), "train it first"),
    ],
)
def test_bad_input_exits_2_with_message(run, args: tuple, message: str) -> None:
    run("train", "intent", DATA / "intent_train.csv", "--name", "shop")
    if "--name" not in args:
        args = (*args, "--name", "shop")
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert message in err


def test_retrieval_unknown_script_in_queries_exits_2(run, tmp_path: Path) -> None:
    queries = tmp_path / "q.csv"
    queries.write_text("text,script_id\n你好,no_such_script\n", encoding="utf-8")
    code, _out, err = run("eval", "retrieval", DATA / "retrieval_library.csv", queries)
    assert code == 2
    assert "no_such_script" in err


def test_bad_model_name_exits_2(run) -> None:
    code, _, err = run("train", "intent", DATA / "intent_train.csv", "--name", "../evil")
    assert code == 2
    assert "invalid model name" in err


def test_real_process_keeps_stdout_pure_json(tmp_path: Path) -> None:
    env = os.environ | {"XIAOER_DATA_DIR": str(tmp_path)}
    exe = Path(sys.executable).parent / "xiaoer"
    cmd = [
        str(exe),
        "nlp",
        "eval",
        "retrieval",
        str(DATA / "retrieval_library.csv"),
        str(DATA / "retrieval_queries.csv"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 28
