"""Input and output of the bot preview API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xiaoer.bounds import INT64_MAX


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    customer_id: int | None = Field(default=None, ge=1, le=INT64_MAX)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class DecisionRead(BaseModel):
    answer: str | None
    script_id: int | None
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]]
    emotion: dict[str, Any]
    handoff: bool
    handoff_reason: str | None
