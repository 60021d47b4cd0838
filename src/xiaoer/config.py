"""Settings: one object built from XIAOER_* environment variables and passed down."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - refused outside development
# Values that appear in docs, examples and tutorials: anyone could sign cookies with them.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        PLACEHOLDER_SECRET,
        "change-me",
        "changeme",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "your-secret-key-here",
        "xiaoer",
        "xiaoer-secret",
        "supersecret",
        "please-change-me",
    }
)
MIN_SECRET_BYTES = 32
GENERATE_SECRET_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105


def secret_key_problem(key: str) -> str | None:
    """Why `key` cannot sign production cookies, or None. It must be a known-nothing value worth
    at least 32 random bytes: judged by length and by the alphabet its characters come from
    (64 hex digits or 43 URL-safe base64 characters pass; a phrase or a repeated pattern does
    not)."""
    if key.strip().lower() in KNOWN_DEFAULT_SECRETS:
        return "is a published default"
    if len(key.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes"
    if len(set(key)) < 12:
        return "repeats too few characters to be random"
    if any(c.isspace() for c in key):
        return "contains spaces, like a phrase rather than random bytes"
    lowered = key.lower()
    if all(c in "0123456789abcdef" for c in lowered):
        alphabet = 16 if not key.isdigit() else 10
    elif all(c.isalnum() or c in "-_" for c in key):
        # Base64url when both cases appear; otherwise lower (or upper) case and digits.
        mixed = any(c.islower() for c in key) and any(c.isupper() for c in key)
        alphabet = 64 if mixed else 38
    else:
        alphabet = 94  # any printable ASCII
    if len(key) * math.log2(max(alphabet, 2)) < 8 * MIN_SECRET_BYTES:
        return f"holds less than {MIN_SECRET_BYTES} random bytes"
    return None


class NlpSettings(BaseModel):
    """`XIAOER_NLP__EMBEDDING_MODEL`: off (default), auto (the packaged MiniLM), a local
    sentence-transformers directory, or `https://host/v1#model` (OpenAI-compatible endpoint)."""

    embedding_model: str = "off"
    embedding_api_key: SecretStr | None = None


class CapacitySettings(BaseModel):
    """How much one process takes on before it answers `busy` (docs/deployment.md).
    `XIAOER_CAPACITY__UNITS_IN_FLIGHT` etc. Socket units stay below the pool size, so they never
    wait inside the pool; HTTP requests use the rest of it."""

    units_in_flight: int = Field(default=16, ge=1)
    units_waiting: int = Field(default=500, ge=0)
    unit_wait_seconds: float = Field(default=5.0, gt=0)
    db_pool_size: int = Field(default=24, ge=1)
    db_max_overflow: int = Field(default=16, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)


class WidgetLimitSettings(BaseModel):
    """Per-address flood limits of the chat widget (`XIAOER_WIDGET_LIMITS__…`). Many shoppers
    share one address behind a carrier's or a mall's NAT, so those are generous; the per-visitor
    and per-connection limits stop a single client."""

    hellos_per_ip_per_minute: int = Field(default=300, ge=1)
    messages_per_ip_per_minute: int = Field(default=600, ge=1)
    messages_per_visitor_per_minute: int = Field(default=30, ge=1)
    messages_per_connection_per_minute: int = Field(default=20, ge=1)


class BackupSettings(BaseModel):
    """`xiaoer backup` and the daily `ops.backup` job: where archives go and how many stay.
    Several hosts: point `dir` at storage the job's host can write, or turn `scheduled` off and
    run `xiaoer backup` from one host's cron."""

    dir: Path | None = Field(default=None, description="default: <data_dir>/backups")
    keep: int = Field(default=14, ge=1)
    scheduled: bool = True


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
    # Largest HTTP request body accepted (imports included); bigger ones get a 413 while
    # streaming, before the rest is read.
    max_body_bytes: int = 10 * 1024 * 1024
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
    jobs_in_process: bool = Field(
        default=True, description="run the jobs worker inside `xiaoer serve` (off: `xiaoer worker`)"
    )
    jobs_poll_seconds: float = Field(default=1.0, gt=0, description="worker idle poll interval")
    jobs_concurrency: int = Field(default=1, ge=1, le=32, description="jobs run at once")
    # Bearer token for /metrics and the API docs in production (staff logins work too).
    metrics_token: SecretStr | None = None
    # A session ends this long after login, or after this long without a request.
    session_max_hours: float = 12.0
    session_idle_minutes: float = 120.0
    # "cheapest-for-tests" makes seeding hundreds of users cheap; refused unless env is "test".
    password_hashing: Literal["argon2id", "cheapest-for-tests"] = "argon2id"  # noqa: S105
    # The bare `/ws/echo` socket that `bench/chat_load.py` compares the chat path against.
    bench_echo: bool = False
    nlp: NlpSettings = NlpSettings()
    capacity: CapacitySettings = CapacitySettings()
    backup: BackupSettings = BackupSettings()
    widget_limits: WidgetLimitSettings = WidgetLimitSettings()

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.password_hashing != "argon2id" and self.env != "test":  # noqa: S105
            raise ValueError("XIAOER_PASSWORD_HASHING other than argon2id is for tests only")
        if self.env != "production":
            return self
        if self.sms_provider == "console":
            raise ValueError("the console SMS provider only logs codes: not in production")
        if self.bench_echo:
            raise ValueError("XIAOER_BENCH_ECHO is for benchmarks, not production")
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise ValueError(
                f"XIAOER_SECRET_KEY {problem}; production needs at least {MIN_SECRET_BYTES} "
                f"random bytes, e.g. {GENERATE_SECRET_HINT}"
            )
        token = self.metrics_token.get_secret_value() if self.metrics_token else None
        if token is not None and secret_key_problem(token):
            raise ValueError(
                f"XIAOER_METRICS_TOKEN {secret_key_problem(token)}; use e.g. {GENERATE_SECRET_HINT}"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'xiaoer.db'}"

    @property
    def backup_dir(self) -> Path:
        return self.backup.dir or self.data_dir / "backups"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` and pass it down instead."""
    return Settings()
