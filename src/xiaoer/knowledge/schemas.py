"""Input and output of the scripts API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.bounds import INT64_MAX, Id, Int64
from xiaoer.knowledge.models import Channel, ScriptStatus

Variant = Literal["A", "B"]
TriggerValue = list[str] | str


class AnswerVariant(BaseModel):
    """One wording: `channel` (im/phone/email/social) and `variant` (A, or B for an A/B test).
    In input, an empty or null body removes the wording; (im, A) is `answer` itself."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    variant: Variant = "A"
    body: str | None = Field(default=None, max_length=4000)


class ScriptRead(BaseModel):
    id: int
    title: str
    category: str
    kind: str | None
    answer: str
    answers: list[AnswerVariant]
    triggers: dict[str, list[str]]
    bot_enabled: bool  # False: agents only, the bot never answers with it
    status: ScriptStatus
    published_version: int | None
    questions: list[str]
    variables: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime


class FindingRead(BaseModel):
    rule: str
    severity: str
    start: int
    end: int
    message: str
    suggestion: str


class PartRead(BaseModel):
    part: str
    present: bool
    start: int
    end: int


class AnswerCheckRead(BaseModel):
    """Lint findings (spans in `body`) and recommended-structure parts of one wording."""

    channel: str
    variant: str
    blocked: bool
    findings: list[FindingRead]
    structure: list[PartRead]


class ScriptDetail(ScriptRead):
    """A script with the checks of every wording, as the current user would send it."""

    blocked: bool
    checks: list[AnswerCheckRead]


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
    answers: list[AnswerVariant] = Field(default_factory=list, max_length=8)
    triggers: dict[str, TriggerValue] = Field(default_factory=dict)
    bot_enabled: bool = True
    publish: bool = False


class ScriptUpdate(BaseModel):
    """Fields left out stay as they are; `questions` replaces the whole list of variants;
    `answers` sets the listed wordings (a null body removes one) and keeps the others;
    `triggers` replaces all trigger conditions; `bot_enabled` false makes it agents-only."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)
    questions: list[str] | None = Field(default=None, min_length=1, max_length=100)
    answers: list[AnswerVariant] | None = Field(default=None, max_length=8)
    triggers: dict[str, TriggerValue] | None = None
    bot_enabled: bool | None = None


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=200)


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=INT64_MAX)


class VariableRead(BaseModel):
    name: str
    label: str
    type: str
    source: str
    example: str


class CategoryNode(BaseModel):
    name: str
    path: str
    kind: str | None
    children: list[CategoryNode]


class CheckBody(BaseModel):
    """A wording being typed in the editor."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=4000)
    category: str = Field(default="", max_length=100)


class CheckRead(BaseModel):
    kind: str | None
    blocked: bool
    findings: list[FindingRead]
    structure: list[PartRead]
    unknown_variables: list[str]


class PreviewBody(BaseModel):
    """Either `answer` (the text being edited) or `script_id` (its stored wording for
    `channel`/`variant`)."""

    model_config = ConfigDict(extra="forbid")

    answer: str | None = Field(default=None, max_length=4000)
    script_id: Id | None = None
    channel: Channel = Channel.im
    variant: Variant = "A"
    order_no: str | None = Field(default=None, max_length=40)


class PreviewRead(BaseModel):
    text: str
    order_no: str | None
    variables: list[str]
    missing: list[str]


class OrderOption(BaseModel):
    order_no: str
    customer_name: str
    status: str
    carrier: str
    tracking_no: str


class VersionRead(BaseModel):
    version: int
    published_at: dt.datetime
    published_by: str | None
    note: str
    serving: bool


class VersionDetail(VersionRead):
    content: dict[str, Any]


class DiffLine(BaseModel):
    op: Literal[" ", "-", "+"]
    text: str


class DiffField(BaseModel):
    field: str
    lines: list[DiffLine]


class DiffRead(BaseModel):
    old: int
    new: int | None
    fields: list[DiffField]


class RuleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Literal["block", "warn", "off"] | None = None
    phrases: list[str] = Field(default_factory=list, max_length=200)
    allowed: list[str] = Field(default_factory=list, max_length=200)


class LintSettingsBody(BaseModel):
    """The shop's whole lint configuration (replaces the previous one)."""

    model_config = ConfigDict(extra="forbid")

    rules: dict[str, RuleChange] = Field(default_factory=dict)
    limits_cents: dict[str, Int64 | None] = Field(default_factory=dict)


class LintRuleRead(BaseModel):
    id: str
    kind: str
    default_severity: str
    severity: str
    message: str
    suggestion: str
    categories: list[str] | None
    angry_only: bool
    phrases: list[str]
    extra_phrases: list[str]
    accepts_phrases: bool
    allowed_phrases: list[str]
    accepts_allowed: bool


class LintSettingsRead(BaseModel):
    rules: list[LintRuleRead]
    limits_cents: dict[str, int | None]
    default_limits_cents: dict[str, int | None]
