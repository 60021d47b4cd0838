import secrets

import pytest
from pydantic import ValidationError

from xiaoer.config import PLACEHOLDER_SECRET, Settings, secret_key_problem


@pytest.mark.parametrize(
    "weak",
    [
        PLACEHOLDER_SECRET,
        "changeme",
        "a-real-secret-of-some-length",  # short
        pytest.param(secrets.token_hex(16), id="16-random-bytes"),  # half of what is needed
        "x" * 64,
        "this is my very long production secret key for 2026",
        "this-is-my-very-long-production-secret-key-2026",
    ],
)
def test_weak_or_default_secret_keys_are_refused_in_production(weak):
    with pytest.raises(ValidationError, match="XIAOER_SECRET_KEY"):
        Settings(env="production", secret_key=weak)
    assert Settings(env="development", secret_key=weak).secret_key == weak


def test_generated_secret_keys_pass():
    for _ in range(200):
        assert secret_key_problem(secrets.token_urlsafe(32)) is None
        assert secret_key_problem(secrets.token_hex(32)) is None
    assert Settings(env="production", secret_key=secrets.token_urlsafe(32)).is_production


def test_a_weak_metrics_token_is_refused_in_production():
    with pytest.raises(ValidationError, match="XIAOER_METRICS_TOKEN"):
        Settings(env="production", secret_key=secrets.token_urlsafe(32), metrics_token="metrics")


def test_data_dir_decides_where_the_sqlite_file_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("XIAOER_DATA_DIR", str(tmp_path / "shopdata"))
    settings = Settings()
    assert settings.effective_database_url.endswith(str(tmp_path / "shopdata" / "xiaoer.db"))
    assert settings.models_dir == tmp_path / "shopdata" / "models"


@pytest.mark.parametrize("env", ["development", "production"])
def test_cheap_password_hashing_is_refused_outside_tests(env):
    with pytest.raises(ValidationError, match="XIAOER_PASSWORD_HASHING"):
        Settings(
            env=env,
            secret_key="a-real-secret-of-some-length",
            password_hashing="cheapest-for-tests",
        )
    assert Settings(env="test", password_hashing="cheapest-for-tests").password_hashing == (
        "cheapest-for-tests"
    )
