"""Structured logs: JSON lines in production, readable console output in development. Each
request and WebSocket connection logs with its request id, and its shop, user and conversation
ids once known (structlog context variables bound by the web layer)."""

from __future__ import annotations

import logging
import re
import uuid

import structlog


def configure_logging(*, json_logs: bool, level: int = logging.INFO) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_logs
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def start_request_context(incoming_id: str | None) -> str:
    """A fresh log context for one request or WebSocket connection; returns its request id
    (the caller's `X-Request-ID` when it looks like one, so ids follow a request across a
    proxy, otherwise a new one). Every log line in this context carries it."""
    request_id = incoming_id if incoming_id and _REQUEST_ID.match(incoming_id) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id


def bind_ids(**ids: int | str | None) -> None:
    """Adds shop, user or conversation ids to the current context once they are known."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})
