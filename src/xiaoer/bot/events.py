"""Facts the bot publishes (through `xiaoer.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass

from xiaoer.outbox import DomainEvent, event_type


@event_type("bot.answered")
@dataclass(frozen=True, kw_only=True)
class BotAnswered(DomainEvent):
    """The bot decided on a customer message: answered from a script, fell back, or handed
    the conversation over (`handoff_reason`)."""

    conversation_id: int
    message_id: int
    decision_id: int
    script_id: int | None
    handoff: bool
    handoff_reason: str | None
