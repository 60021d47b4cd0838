"""Facts the conversations domain publishes (through `xiaoer.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass

from xiaoer.outbox import DomainEvent, event_type


@event_type("conversations.message_received")
@dataclass(frozen=True, kw_only=True)
class MessageReceived(DomainEvent):
    """A customer message was stored (once per client message id)."""

    conversation_id: int
    message_id: int
    customer_id: int
    channel: str


@event_type("conversations.assigned")
@dataclass(frozen=True, kw_only=True)
class ConversationAssigned(DomainEvent):
    """An agent took the conversation (accepted it, or it was transferred to them)."""

    conversation_id: int
    assignee_id: int
    previous_assignee_id: int | None
    how: str  # accepted / transferred
