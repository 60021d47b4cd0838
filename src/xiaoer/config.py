"""Settings: one object built from XIAOER_* environment variables and passed down."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside development


class NlpSettings(BaseModel):
    """`XIAOER_NLP__EMBEDDING_MODEL`: off (default), auto (the packaged MiniLM), a local
    sentence-transformers directory, or `https://host/v1#model` (OpenAI-compatible endpoint)."""

    embedding_model: str = "off"
    embedding_api_key: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOER_", env_nested_delimiter="__")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("xiaoer-data")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = PLACEHOLDER_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    vendor_dir: Path | None = Field(
        default=None, description="node_modules folder holding htmx and echarts"
    )
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    bot_unanswered_turns_before_handoff: int = 2
    max_message_chars: int = 4000
    log_json: bool = True
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs), JSON list in env.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Shopper verification in the chat widget (docs/subsystems/chat-protocol.md).
    verified_session_hours: float = 24.0
    verification_code_minutes: float = 10.0
    verification_code_attempts: int = 5
    # One-time codes by e-mail go through this SMTP server; without `smtp_host` e-mail codes
    # are unavailable.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "xiaoer@localhost"
    smtp_starttls: bool = True
    # "console" logs SMS codes (development only); "none" turns SMS codes off. Unset means
    # console outside production and none in production.
    sms_provider: Literal["console", "none"] | None = None
    nlp: NlpSettings = NlpSettings()

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("XIAOER_SECRET_KEY must be set to a real secret in production")
        if self.env == "production" and self.sms_provider == "console":
            raise ValueError("the console SMS provider only logs codes: not in production")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'xiaoer.db'}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` and pass it down instead."""
    return Settings()
