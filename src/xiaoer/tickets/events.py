"""Facts the tickets domain publishes (through `xiaoer.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xiaoer.outbox import DomainEvent, event_type


@event_type("tickets.changed")
@dataclass(frozen=True, kw_only=True)
class TicketChanged(DomainEvent):
    """A ticket was created (`created`) or some of its fields changed (`fields`)."""

    ticket_id: int
    created: bool
    fields: list[str] = field(default_factory=list)
