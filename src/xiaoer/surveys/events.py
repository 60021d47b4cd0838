"""Facts the surveys domain publishes (through `xiaoer.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass

from xiaoer.outbox import DomainEvent, event_type


@event_type("surveys.rating_saved")
@dataclass(frozen=True, kw_only=True)
class RatingSaved(DomainEvent):
    conversation_id: int
    response_id: int
    rating: int
