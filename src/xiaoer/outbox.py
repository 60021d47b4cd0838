"""Domain events through a transactional outbox.

A domain declares its facts in `<domain>/events.py` as frozen dataclasses deriving from
`DomainEvent`; a service publishes one with `await publish(session, SomethingHappened(...))`
inside the caller's transaction. `publish` writes the event to `outbox_event` and, for every
handler registered for its type, enqueues an `outbox.deliver` job in the same transaction. So:

- if the change rolls back, neither the event nor its deliveries exist;
- once it commits, the jobs worker delivers (the commit wakes this process's worker at once);
- a handler that raises has its writes rolled back and is retried with back-off, and after its
  attempts it shows up as a dead job for admins — the event itself is never lost;
- a delivery runs the handler and marks the job done in one transaction: its effects happen
  once per (event, handler).

Handlers live in `<domain>/handlers.py`, take `(session, event)`, reload what they need from the
database and call their own domain's services:

    @handles(ScriptUsed)
    async def count_use(session, event: ScriptUsed) -> None: ...

Loop guard: an event published while a handler runs gets that handler's event as its `cause`
and a `depth` one more than it; past `MAX_DEPTH` publishing raises `EventLoop` (automation rules
that trigger each other end as a dead delivery job instead of running forever). Handlers may also
ignore events whose `actor.type` is their own (automation ignores automation).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

import structlog
from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer import clock, jobs
from xiaoer.db import Base, BigId, IdMixin
from xiaoer.jobs import import_domain_modules

log = structlog.get_logger(__name__)

ActorType = Literal["user", "customer", "bot", "automation", "system"]
MAX_DEPTH = 8
DELIVER_JOB = "outbox.deliver"


class EventLoop(jobs.PermanentJobError):
    """An event chain grew past MAX_DEPTH: handlers are probably triggering each other."""


@dataclass(frozen=True)
class EventActor:
    type: ActorType
    id: int | None = None


SYSTEM = EventActor("system")
BOT = EventActor("bot")


def actor_of(actor: Any) -> EventActor:
    """An event actor from an audit `Actor` (anything with `type` and `id`)."""
    kind = str(getattr(actor, "type", "system"))
    if kind not in ("user", "customer", "bot", "automation", "system"):
        kind = "system"
    return EventActor(kind, getattr(actor, "id", None))  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every domain event: ids and the actor, never snapshots of rows."""

    name: ClassVar[str] = ""

    shop_id: int
    actor: EventActor
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: dt.datetime = field(default_factory=clock.now)
    cause: str | None = None  # the id of the event whose handler published this one
    depth: int = 0

    def payload(self) -> dict[str, Any]:
        base = {"shop_id", "actor", "id", "at", "cause", "depth"}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base
        }


E = TypeVar("E", bound=DomainEvent)
EventHandler = Callable[[AsyncSession, Any], Awaitable[None]]

_EVENT_TYPES: dict[str, type[DomainEvent]] = {}
_HANDLERS: dict[str, dict[str, EventHandler]] = {}  # event name → handler key → function
_current: ContextVar[DomainEvent | None] = ContextVar("xiaoer_current_event", default=None)
_handlers_loaded = False


def event_type(name: str) -> Callable[[type[E]], type[E]]:
    """Register a DomainEvent subclass under a stable name (stored in the outbox)."""

    def decorate(cls: type[E]) -> type[E]:
        if name in _EVENT_TYPES and _EVENT_TYPES[name].__qualname__ != cls.__qualname__:
            raise ValueError(f"event {name!r} is declared twice")
        cls.name = name
        _EVENT_TYPES[name] = cls
        return cls

    return decorate


def handles(*types: type[DomainEvent]) -> Callable[[EventHandler], EventHandler]:
    """Register `async def handler(session, event)` for the given event types."""

    def decorate(handler: EventHandler) -> EventHandler:
        key = f"{handler.__module__}.{handler.__qualname__}"
        for cls in types:
            if not cls.name:
                raise ValueError(f"{cls.__qualname__} has no @event_type name")
            _HANDLERS.setdefault(cls.name, {})[key] = handler
        return handler

    return decorate


def load_handler_modules() -> None:
    """Import every `xiaoer.<domain>.handlers` (and so its events) once."""
    global _handlers_loaded
    if _handlers_loaded:
        return
    import_domain_modules("events")
    import_domain_modules("handlers")
    _handlers_loaded = True


def handlers_for(name: str) -> dict[str, EventHandler]:
    load_handler_modules()
    return dict(_HANDLERS.get(name, {}))


class OutboxEvent(IdMixin, Base):
    """Every published domain event, in commit order (ids); the record deliveries reload."""

    __tablename__ = "outbox_event"

    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    shop_id: Mapped[int] = mapped_column(BigId, index=True)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cause_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)


def current_event() -> DomainEvent | None:
    """The event whose handler is running in this task (the cause of what it publishes)."""
    return _current.get()


async def publish(session: AsyncSession, event: DomainEvent) -> DomainEvent:
    """Record `event` in the caller's transaction and schedule its handlers (after commit).
    Returns the event as stored (with `cause`/`depth` filled in when a handler published it)."""
    if not event.name or _EVENT_TYPES.get(event.name) is not type(event):
        raise ValueError(f"{type(event).__qualname__} is not a registered event type")
    cause = _current.get()
    if cause is not None and event.cause is None:
        event = dataclasses.replace(event, cause=cause.id, depth=cause.depth + 1)
    if event.depth > MAX_DEPTH:
        raise EventLoop(f"{event.name} caused by a chain of {event.depth} events")
    session.add(
        OutboxEvent(
            event_id=event.id,
            name=event.name,
            shop_id=event.shop_id,
            actor_type=event.actor.type,
            actor_id=event.actor.id,
            payload=event.payload(),
            cause_id=event.cause,
            depth=event.depth,
            occurred_at=event.at,
        )
    )
    for key in handlers_for(event.name):
        await jobs.enqueue(
            session,
            DELIVER_JOB,
            dedupe_key=f"{event.id}:{key}"[:200],
            event_id=event.id,
            handler=key,
            shop_id=event.shop_id,
        )
    return event


def _rebuild(row: OutboxEvent) -> DomainEvent:
    cls = _EVENT_TYPES.get(row.name)
    if cls is None:
        raise LookupError(f"unknown event type {row.name!r}")
    return cls(
        shop_id=row.shop_id,
        actor=EventActor(row.actor_type, row.actor_id),  # type: ignore[arg-type]
        id=row.event_id,
        at=row.occurred_at,
        cause=row.cause_id,
        depth=row.depth,
        **row.payload,
    )


async def load_event(session: AsyncSession, event_id: str) -> DomainEvent | None:
    row = await session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))
    return None if row is None else _rebuild(row)


@jobs.job(DELIVER_JOB, max_attempts=8)
async def deliver(session: AsyncSession, *, event_id: str, handler: str, shop_id: int) -> None:
    """Run one handler for one event (a job: retried on failure, done once)."""
    event = await load_event(session, event_id)
    if event is None:
        raise LookupError(f"event {event_id} is not in the outbox")
    function = handlers_for(event.name).get(handler)
    if function is None:
        # The handler was removed in a later release: nothing is left to do for it.
        log.warning("event_handler_gone", event=event.name, handler=handler)
        return
    token = _current.set(event)
    try:
        await function(session, event)
    finally:
        _current.reset(token)


async def recent_events(
    session: AsyncSession, *, shop_id: int, limit: int = 100
) -> list[DomainEvent]:
    load_handler_modules()
    rows = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.shop_id == shop_id)
        .order_by(OutboxEvent.id.desc())
        .limit(limit)
    )
    return [_rebuild(r) for r in rows]
