"""Pydantic input models: WebSocket frames from customers and staff, and staff API bodies.

Body length limits (empty, > `max_message_chars`) are checked by the service so that every entry
point (WebSocket or HTTP) answers them with the same error code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xiaoer.assist.schemas import AssistReplyIn, OverrideIn
from xiaoer.bounds import INT64_MAX


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class HelloFrame(_Frame):
    type: Literal["hello"]
    visitor_token: str | None = Field(default=None, max_length=64)
    last_message_id: int = Field(default=0, ge=0, le=INT64_MAX)


class MessageFrame(_Frame):
    type: Literal["message"]
    client_msg_id: str = Field(min_length=1, max_length=64)
    body: str = Field(max_length=20_000)  # the real limit is checked after strip, with its own code
    # The widget's "转人工" button: hand over to a person whatever the bot would say.
    handoff: bool = False


class IdentifyFrame(_Frame):
    type: Literal["identify"]
    phone: str | None = Field(default=None, max_length=40)
    order_no: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _one_of(self) -> IdentifyFrame:
        if not (self.phone or "").strip() and not (self.order_no or "").strip():
            raise ValueError("give a phone number or an order number")
        return self


class TypingFrame(_Frame):
    type: Literal["typing"]


class RatingFrame(_Frame):
    type: Literal["rating"]
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


CustomerFrame = Annotated[
    HelloFrame | MessageFrame | IdentifyFrame | TypingFrame | RatingFrame,
    Field(discriminator="type"),
]
CUSTOMER_FRAME_TYPES = ("hello", "message", "identify", "typing", "rating")


class WatchFrame(_Frame):
    type: Literal["watch", "unwatch"]
    conversation_id: int = Field(ge=1, le=INT64_MAX)


class StaffTypingFrame(_Frame):
    type: Literal["typing"]
    conversation_id: int = Field(ge=1, le=INT64_MAX)


StaffFrame = Annotated[WatchFrame | StaffTypingFrame, Field(discriminator="type")]
STAFF_FRAME_TYPES = ("watch", "unwatch", "typing")


class StaffMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=20_000)
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64)
    internal: bool = False
    # The suggested or searched script the reply came from (usage statistics, lint category).
    assist: AssistReplyIn | None = None
    # A supervisor's approval of a reply the compliance lint blocks.
    override: OverrideIn | None = None


class ReadIn(BaseModel):
    message_id: int = Field(ge=0, le=INT64_MAX)


class TransferIn(BaseModel):
    agent_id: int = Field(ge=1, le=INT64_MAX)
