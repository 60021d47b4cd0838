"""Input and output of the users API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.auth.models import Role
from xiaoer.auth.password_policy import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    is_active: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    mfa_enabled_at: dt.datetime | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    role: Role = Role.agent
    display_name: str = Field(default="", max_length=100)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Role | None = None
    is_active: bool | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )


class AgentRead(BaseModel):
    id: int
    display_name: str
    role: Role
    open_chats: int


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    shop_id: int
    csrf_token: str


class SessionRead(BaseModel):
    """A live login of a user (the token itself is never shown)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    ip: str
    user_agent: str


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=500)
    new_password: str = Field(max_length=500)


class SecuritySettings(BaseModel):
    """The shop's login rules: `mfa_required` makes admins and supervisors use TOTP."""

    model_config = ConfigDict(extra="forbid")

    mfa_required: bool
