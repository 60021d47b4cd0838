import pytest
from pydantic import ValidationError

from xiaoer.config import PLACEHOLDER_SECRET, Settings


def test_placeholder_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="XIAOER_SECRET_KEY"):
        Settings(env="production", secret_key=PLACEHOLDER_SECRET)
    assert Settings(env="production", secret_key="a-real-secret-of-some-length").env == "production"


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
