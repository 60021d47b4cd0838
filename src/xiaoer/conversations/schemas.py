"""Pydantic input models: WebSocket frames from customers and staff, and staff API bodies.

Body length limits (empty, > `max_message_chars`) are checked by the service so that every entry
point (WebSocket or HTTP) answers them with the same error code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xiaoer.bounds import INT64_MAX


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
    """Withdrawn: a bare claim of a phone or order number proves nothing. Answered with
    `verification_required`; kept so old widgets get that answer instead of `unknown_type`."""

    type: Literal["identify"]
    phone: str | None = Field(default=None, max_length=40)
    order_no: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _one_of(self) -> IdentifyFrame:
        if not (self.phone or "").strip() and not (self.order_no or "").strip():
            raise ValueError("give a phone number or an order number")
        return self


class VerifyFrame(_Frame):
    """A proof of identity: the merchant's signed token, an order number with the last four
    digits of the recipient's phone, or the one-time code sent by `verify_request`."""

    type: Literal["verify"]
    method: Literal["token", "order", "code"]
    token: str | None = Field(default=None, max_length=400)
    order_no: str | None = Field(default=None, max_length=40)
    phone_last4: str | None = Field(default=None, max_length=8)
    code: str | None = Field(default=None, max_length=12)

    @model_validator(mode="after")
    def _fields_for_method(self) -> VerifyFrame:
        needed = {"token": ("token",), "order": ("order_no", "phone_last4"), "code": ("code",)}
        for name in needed[self.method]:
            if not (getattr(self, name) or "").strip():
                raise ValueError(f"{name} is required for method {self.method}")
        return self


class CodeRequestFrame(_Frame):
    """Asks for a one-time code by SMS to a phone number or by e-mail."""

    type: Literal["verify_request"]
    channel: Literal["sms", "email"]
    target: str = Field(min_length=1, max_length=200)


class TypingFrame(_Frame):
    type: Literal["typing"]


class RatingFrame(_Frame):
    type: Literal["rating"]
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


CustomerFrame = Annotated[
    HelloFrame
    | MessageFrame
    | IdentifyFrame
    | VerifyFrame
    | CodeRequestFrame
    | TypingFrame
    | RatingFrame,
    Field(discriminator="type"),
]
CUSTOMER_FRAME_TYPES = (
    "hello",
    "message",
    "identify",
    "verify",
    "verify_request",
    "typing",
    "rating",
)
# Frames larger than this are refused before they are read (uvicorn's `ws_max_size` for
# `xiaoer serve`) and again by the frame parser; nesting deeper than this is `malformed`.
MAX_FRAME_BYTES = 64 * 1024
MAX_FRAME_DEPTH = 16


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
