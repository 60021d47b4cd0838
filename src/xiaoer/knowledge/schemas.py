"""Input and output of the scripts API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.knowledge.models import ScriptStatus


class ScriptRead(BaseModel):
    id: int
    title: str
    category: str
    answer: str
    status: ScriptStatus
    questions: list[str]
    variables: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class ScriptPage(BaseModel):
    items: list[ScriptRead]
    total: int
    limit: int
    offset: int


class ScriptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    category: str = Field(default="", max_length=100)
    answer: str = Field(min_length=1, max_length=4000)
    questions: list[str] = Field(min_length=1, max_length=100)
    publish: bool = False


class ScriptUpdate(BaseModel):
    """Fields left out stay as they are; `questions` replaces the whole list of variants."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    questions: list[str] | None = Field(default=None, min_length=1, max_length=100)


class VariableRead(BaseModel):
    name: str
    label: str
