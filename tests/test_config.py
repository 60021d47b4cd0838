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
