"""Facts the script library publishes (through `xiaoer.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass

from xiaoer.outbox import DomainEvent, event_type


@event_type("knowledge.script_used")
@dataclass(frozen=True, kw_only=True)
class ScriptUsed(DomainEvent):
    """A script was suggested to an agent, inserted, sent, or answered by the bot."""

    script_id: int
    kind: str  # ScriptEventKind: suggested / inserted / sent / bot_answered
    conversation_id: int | None
    message_id: int | None
    variant: str


@event_type("knowledge.proposal_created")
@dataclass(frozen=True, kw_only=True)
class ScriptProposed(DomainEvent):
    proposal_id: int
    script_id: int | None
