"""Request bodies of the assist API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xiaoer.bounds import INT64_MAX
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


class OverrideIn(BaseModel):
    """A supervisor's approval of a blocked reply: their credentials typed into the agent's
    override dialog, or `confirm` when the sender is a supervisor or admin themselves."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=200)
    confirm: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> OverrideIn:
        if (self.username or "").strip():
            if not self.password:
                raise ValueError("give the supervisor's password")
        elif not self.confirm:
            raise ValueError("give a supervisor's username and password, or confirm")
        return self


class AssistReplyIn(BaseModel):
    """The script a reply came from: the text as inserted, to tell whether it was edited."""

    model_config = ConfigDict(extra="forbid")

    script_id: int = Field(ge=1, le=INT64_MAX)
    inserted_text: str | None = Field(default=None, max_length=20_000)
