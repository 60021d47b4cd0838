"""Input and output of the tickets API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xiaoer.bounds import INT64_MAX
from xiaoer.tickets.models import TicketStatus, TicketType

Priority = Literal["P1", "P2", "P3", "P4"]


class TicketCreate(BaseModel):
    """From a conversation, `title` may be left out (the last customer message is used)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    type: TicketType = TicketType.consultation
    priority: Priority = "P3"
    assignee_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    customer_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    order_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    conversation_id: int | None = Field(default=None, ge=1, le=INT64_MAX)


class TicketUpdate(BaseModel):
    """Only the fields sent change; `null` unlinks assignee, customer or order."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    type: TicketType | None = None
    priority: Priority | None = None
    status: TicketStatus | None = None
    assignee_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    customer_id: int | None = Field(default=None, ge=1, le=INT64_MAX)
    order_id: int | None = Field(default=None, ge=1, le=INT64_MAX)


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5_000)


class UserRef(BaseModel):
    id: int
    display_name: str


class CustomerRef(BaseModel):
    id: int
    name: str


class OrderRef(BaseModel):
    id: int
    order_no: str
    status: str


class Rating(BaseModel):
    rating: int
    comment: str
    created_at: str | None = None


class TicketEventRead(BaseModel):
    id: int
    kind: str  # created / changed / reopened / comment
    field: str | None
    before: Any
    after: Any
    comment: str | None
    actor_type: str
    actor: UserRef | None
    created_at: dt.datetime


class TicketRead(BaseModel):
    id: int
    number: str
    title: str
    description: str
    type: TicketType
    priority: Priority
    status: TicketStatus
    allowed_statuses: list[TicketStatus]
    assignee: UserRef | None
    customer: CustomerRef | None
    order: OrderRef | None
    conversation_id: int | None
    created_by: UserRef | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None


class TicketDetail(TicketRead):
    rating: Rating | None
    events: list[TicketEventRead]


class TicketPage(BaseModel):
    items: list[TicketRead]
    total: int
    page: int
    per_page: int
