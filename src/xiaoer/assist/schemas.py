"""Request bodies of the assist API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.bounds import INT64_MAX
from xiaoer.conversations.schemas import AssistReplyIn as AssistReplyIn
from xiaoer.conversations.schemas import OverrideIn as OverrideIn
from xiaoer.knowledge.models import ProposalKind


class LintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: int = Field(ge=1, le=INT64_MAX)
    text: str = Field(max_length=20_000)
    script_id: int | None = Field(default=None, ge=1, le=INT64_MAX)


class UsageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: int = Field(ge=1, le=INT64_MAX)
    script_id: int = Field(ge=1, le=INT64_MAX)
    kind: Literal["inserted"] = "inserted"


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: int = Field(ge=1, le=INT64_MAX)
    message_id: int = Field(ge=1, le=INT64_MAX)
    kind: ProposalKind
    script_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    title: str = Field(default="", max_length=200)
    answer: str = Field(default="", max_length=4000)
