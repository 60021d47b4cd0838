"""The operator's CLI as a user runs it: a real process, configured only by XIAOER_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import postgres_admin_url
from tests.servers import fresh_postgres
from xiaoer.migrate import sync_url


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


def xiaoer(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xiaoer", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _db_url(env: dict[str, str]) -> str:
    return env.get("XIAOER_DATABASE_URL") or f"sqlite:///{env['XIAOER_DATA_DIR']}/xiaoer.db"


def test_seed_then_createuser_then_seed_again_refuses(cli_env: dict[str, str]) -> None:
    seeded = xiaoer(cli_env, "seed")
    assert seeded.returncode == 0, seeded.stderr
    assert "agent1" in seeded.stdout
    assert "xiaoer-agent-2026" in seeded.stdout
    if "XIAOER_DATABASE_URL" not in cli_env:
        assert (Path(cli_env["XIAOER_DATA_DIR"]) / "xiaoer.db").is_file()

    created = xiaoer(
        cli_env, "createuser", "lihua", "--role", "supervisor", "--password", "s3cret-pass-1"
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {
        "id": json.loads(created.stdout)["id"],
        "username": "lihua",
        "role": "supervisor",
        "shop": "demo",
    }
    engine = create_engine(sync_url(_db_url(cli_env)))
    try:
        with engine.connect() as conn:
            role = conn.execute(
                text("select role from user_account where username = 'lihua'")
            ).scalar_one()
            orders = conn.execute(text("select count(*) from shop_order")).scalar_one()
    finally:
        engine.dispose()
    assert role == "supervisor"
    assert orders >= 200

    again = xiaoer(cli_env, "seed")
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_createuser_rejects_bad_input_with_a_message(cli_env: dict[str, str]) -> None:
    assert xiaoer(cli_env, "migrate").returncode == 0
    no_shop = xiaoer(cli_env, "createuser", "x", "--password", "long-enough-1")
    assert no_shop.returncode == 2
    assert "no shop" in no_shop.stderr
    bad_role = xiaoer(cli_env, "createuser", "x", "--role", "boss", "--password", "long-enough-1")
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr


def test_production_refuses_a_weak_secret_key_with_a_clear_message(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "XIAOER_ENV": "production", "XIAOER_SECRET_KEY": "changeme"}
    for command in ("migrate", "serve"):
        result = xiaoer(env, command)
        assert result.returncode == 2
        assert "configuration error: XIAOER_SECRET_KEY is a published default" in result.stderr
        assert "Traceback" not in result.stderr


def test_production_refuses_to_seed_demo_staff_with_published_passwords(
    cli_env: dict[str, str],
) -> None:
    import secrets

    env = {**cli_env, "XIAOER_ENV": "production", "XIAOER_SECRET_KEY": secrets.token_urlsafe(32)}
    for command in ("seed", "demo"):
        result = xiaoer(env, command)
        assert result.returncode == 2
        assert "published passwords" in result.stderr
    # Nothing was created: not even the database file.
    assert not (Path(cli_env["XIAOER_DATA_DIR"]) / "xiaoer.db").exists()


HEAVY = ("sklearn", "scipy", "numpy", "jieba", "pypinyin", "opencc", "alembic")
_LOADED = """
import sys
{work}
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _heavy_modules_after(work: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(work=work, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_cli_and_app_start_without_the_model_libraries() -> None:
    """Starting costs seconds per library (scikit-learn alone ~2 s): they load when a model is
    first needed, not when `xiaoer --help` runs or the app is built."""
    assert _heavy_modules_after("import xiaoer.cli") == []
    app_start = (
        "from xiaoer.app import create_app\n"
        "from xiaoer.config import Settings\n"
        "create_app(Settings(env='test'))"
    )
    assert _heavy_modules_after(app_start) == []
    # The lazy names still resolve to the real thing once asked for.
    assert "sklearn" in _heavy_modules_after("from xiaoer.nlp import ScriptMatcher")
