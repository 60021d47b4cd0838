"""Send, forward and receive on a chat WebSocket, whatever the channel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import WebSocket, WebSocketDisconnect

from xiaoer import metrics
from xiaoer.errors import DomainError
from xiaoer.events import Subscription
from xiaoer.realtime.units import Busy
from xiaoer.web.i18n import error_text, request_locale

log = structlog.get_logger(__name__)


class FrameError(Exception):
    """A frame the client must fix; answered with an error frame, the socket stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def _about(frame: Any) -> dict[str, Any]:
    """Which inbound frame an error answers, so a client can retry exactly that one."""
    about: dict[str, Any] = {}
    kind = getattr(frame, "type", None)
    if isinstance(kind, str):
        about["frame_type"] = kind
    client_msg_id = getattr(frame, "client_msg_id", None)
    if isinstance(client_msg_id, str):
        about["client_msg_id"] = client_msg_id
    return about


class Sender:
    """Serialises sends: acks from the receive loop and pushes from the bus share one socket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))


async def pump(subscription: Subscription, sender: Sender) -> None:
    """Forwards bus frames to the socket. A subscriber that overflowed, or that may have missed
    other processes' frames while the bus was away, is cut off so its client reconnects and
    resumes from the database instead of silently missing frames."""
    while True:
        _topic, frame = await subscription.get()
        if subscription.overflowed:
            await sender.websocket.close(code=1013)
            return
        if subscription.stale:
            # 1012 "service restart": clients reconnect and catch up, as after a deploy.
            await sender.websocket.close(code=1012)
            return
        await sender.send(frame)


async def serve_frames(
    websocket: WebSocket,
    sender: Sender,
    handle: Callable[[Any], Awaitable[None]],
    parse: Callable[[str], Any],
) -> None:
    """The receive loop shared by customer and staff sockets: bad frames get an error frame and
    the connection stays usable; domain errors become error frames with their code; overload
    becomes `busy` with the frame's client id so the client resends the same frame later."""
    channel = "agent" if websocket.url.path.startswith("/ws/agent") else "customer"
    # Error texts in the page's language (the widget passes ?lang=, staff pages send the cookie).
    locale = request_locale(websocket, websocket.app.state.settings.default_locale)
    while True:
        raw = await websocket.receive_text()
        started = time.perf_counter()
        frame: Any = None
        outcome = "error"
        try:
            frame = parse(raw)
            await handle(frame)
            outcome = "ok"
        except FrameError as exc:
            await sender.send(error_frame(exc.code, exc.message))
        except Busy as exc:
            outcome = "busy"
            await sender.send(
                error_frame(
                    "busy",
                    "the server is busy; retry shortly",
                    retry_after_ms=exc.retry_after_ms,
                    **_about(frame),
                )
            )
        except DomainError as exc:
            text = error_text(
                locale,
                status=exc.status_code,
                code=exc.code,
                message=exc.message,
                key=exc.key or exc.code,
                params=exc.params,
            )
            await sender.send(error_frame(exc.code, text))
        except WebSocketDisconnect:
            raise
        except Exception:  # one bad frame must not end the chat; the client may retry it
            outcome = "internal_error"
            log.exception("websocket_frame_failed", path=websocket.url.path)
            await sender.send(
                error_frame(
                    "internal_error", "the server could not process this frame", **_about(frame)
                )
            )
        finally:
            metrics.WS_FRAME_LATENCY.labels(
                channel, str(getattr(frame, "type", "unparsed")), outcome
            ).observe(time.perf_counter() - started)
