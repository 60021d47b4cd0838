"""Input of the insights and script-proposals APIs (outputs are the services' `as_dict`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.bounds import INT64_MAX, Id

DecisionIds = list[Id]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuestionsSelection(_Strict):
    """Unanswered questions, by the bot decision ids the cluster list gives."""

    decision_ids: DecisionIds = Field(min_length=1, max_length=2000)


class AttachQuestions(QuestionsSelection):
    script_id: int = Field(ge=1, le=INT64_MAX)
    publish: bool = False


class CreateFromQuestions(QuestionsSelection):
    title: str = Field(default="", max_length=200)
    answer: str = Field(max_length=4000)
    category: str = Field(default="", max_length=100)
    publish: bool = False


class StartAbTest(_Strict):
    script_id: int = Field(ge=1, le=INT64_MAX)
    split: float = Field(default=0.5, description="share of conversations served wording B")


class PickWinner(_Strict):
    variant: Literal["A", "B"]


class AcceptProposal(_Strict):
    publish: bool = False
    title: str | None = Field(default=None, max_length=200)
    answer: str | None = Field(default=None, max_length=4000)
    category: str = Field(default="", max_length=100)


class RejectProposal(_Strict):
    reason: str = Field(default="", max_length=500)
