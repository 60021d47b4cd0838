from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class Role(enum.StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    agent = "agent"


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("username"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    is_active: Mapped[bool] = mapped_column(default=True)
    max_concurrent_chats: Mapped[int] = mapped_column(default=5)
    # Superseded by the user_session table (server-side revocation); still bumped on password
    # reset and deactivation so cookies of the first stage stay invalid.
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # TOTP (RFC 6238) shared secret in base32; set only once the user proved they can use it.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    mfa_enabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # The last accepted TOTP time step: a code is accepted once (ASVS: OTPs are single-use).
    totp_last_step: Mapped[int | None] = mapped_column(default=None)


class SessionStage(enum.StrEnum):
    """How far a login got. Only `active` sessions reach the product; the others reach only
    the second-factor step or the MFA enrolment the shop requires."""

    mfa = "mfa"
    enrol = "enrol"
    active = "active"


class UserSession(IdMixin, CreatedAtMixin, Base):
    """A login on the server: the signed cookie carries only a random token whose SHA-256 is
    stored here, so ending a session here ends it everywhere, and a copy of this table is no
    key to anyone's account."""

    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_account.id"), index=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    stage: Mapped[SessionStage] = mapped_column(Enum(SessionStage, native_enum=False, length=10))
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # logout, password_changed, password_reset, deactivated, ended_by_admin, mfa_changed, …
    end_reason: Mapped[str | None] = mapped_column(String(30), default=None)


class RecoveryCode(IdMixin, CreatedAtMixin, Base):
    """One-time MFA recovery codes. Each is 50 random bits, so a SHA-256 suffices (a slow hash
    protects guessable secrets, and these are not guessable)."""

    __tablename__ = "mfa_recovery_code"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
