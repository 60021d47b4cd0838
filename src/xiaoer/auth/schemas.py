"""Input and output of the users API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.auth.models import Role


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    is_active: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Role = Role.agent
    display_name: str = Field(default="", max_length=100)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Role | None = None
    is_active: bool | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=200)


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
