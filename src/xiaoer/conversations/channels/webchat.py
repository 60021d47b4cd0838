"""Web chat channel: the widget page and its WebSocket (docs/subsystems/chat-protocol.md).

Each inbound frame is one unit of work: its own transaction, committed before the `ack`, then the
frames the service queued are published. A frame that races another on a unique key (a resend of
the same client message id) is retried once; the retry finds the stored row and acks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import events, metrics
from xiaoer.conversations import frames
from xiaoer.conversations import service as conversations
from xiaoer.conversations.models import ConversationStatus
from xiaoer.conversations.schemas import (
    CUSTOMER_FRAME_TYPES,
    CustomerFrame,
    HelloFrame,
    IdentifyFrame,
    MessageFrame,
    RatingFrame,
    TypingFrame,
)
from xiaoer.customers import service as customers
from xiaoer.db import transaction
from xiaoer.errors import DomainError, NotFound
from xiaoer.events import Subscription
from xiaoer.logs import bind_ids, start_request_context
from xiaoer.surveys import service as surveys
from xiaoer.web.i18n import catalog, request_locale
from xiaoer.web.templating import render

log = structlog.get_logger(__name__)
router = APIRouter()
T = TypeVar("T")

MAX_FRAME_BYTES = 64 * 1024
_customer_frame: TypeAdapter[Any] = TypeAdapter(CustomerFrame)


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_frame(raw: str, adapter: TypeAdapter[Any], known: tuple[str, ...]) -> Any:
    """Raw text to a frame model, or FrameError with a code the client can act on."""
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("malformed", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("malformed", "frame must be a JSON object")
    if data.get("type") not in known:
        raise FrameError("unknown_type", f"unknown frame type {str(data.get('type'))[:40]!r}")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        raise FrameError(
            "invalid", f"{where}: {first.get('msg')}" if where else first["msg"]
        ) from None


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


class WriteTurn:
    """On SQLite, chat units of work take turns inside the process. SQLite has one writer at a
    time anyway; waiting here (FIFO, woken at once) instead of in SQLite's busy handler (which
    polls with sleeps of up to 100 ms) keeps the latency tail short under load. A unit may read
    first and `take()` its turn just before writing, so the bot thinks while another unit
    commits. The turn is given back after commit. PostgreSQL writers need no turn."""

    def __init__(self, app_state: Any) -> None:
        self.lock: asyncio.Lock | None = None
        if app_state.engine.dialect.name == "sqlite":
            self.lock = getattr(app_state, "sqlite_write_lock", None)
            if self.lock is None:
                self.lock = app_state.sqlite_write_lock = asyncio.Lock()
        self.held = False

    async def take(self) -> None:
        if self.lock is not None and not self.held:
            await self.lock.acquire()
            self.held = True

    def give_back(self) -> None:
        if self.lock is not None and self.held:
            self.held = False
            self.lock.release()


async def run_unit(
    app_state: Any,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    retries: int = 1,
    turn: WriteTurn | None = None,
    before_publish: Callable[[T], None] | None = None,
) -> T:
    """Runs `work` in its own transaction, commits, then publishes the frames it queued.
    Without `turn` the unit takes its write turn up front; with one, `work` takes it itself.
    `before_publish` runs between commit and publish (e.g. to subscribe to a new topic)."""
    own_turn = turn is None
    write_turn = turn or WriteTurn(app_state)
    for attempt in range(retries + 1):
        try:
            if own_turn:
                await write_turn.take()
            async with transaction(app_state.sessions) as session:
                try:
                    result = await work(session)
                except BaseException:
                    events.discard_pending(session)
                    raise
                pending = events.take_pending(session)
        except IntegrityError:
            if attempt == retries:
                raise
            continue
        finally:
            write_turn.give_back()
        if before_publish is not None:
            before_publish(result)
        await app_state.bus.publish_pending(pending)
        return result
    raise AssertionError("unreachable")


class Sender:
    """Serialises sends: acks from the receive loop and pushes from the bus share one socket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))


async def pump(subscription: Subscription, sender: Sender) -> None:
    """Forwards bus frames to the socket; an overflowing subscriber is cut off so the client
    reconnects and resumes from the database instead of silently missing frames."""
    while True:
        _topic, frame = await subscription.get()
        if subscription.overflowed:
            await sender.websocket.close(code=1013)
            return
        await sender.send(frame)


# --- the widget page ----------------------------------------------------------------------------


_JS_PREFIXES = ("widget.", "conversations.system.", "conversations.bot.")


def widget_strings(locale: str) -> dict[str, str]:
    strings = {k: v for k, v in catalog("en").items() if k.startswith(_JS_PREFIXES)}
    strings.update({k: v for k, v in catalog(locale).items() if k.startswith(_JS_PREFIXES)})
    return strings


@router.get("/chat/{shop_slug}", response_class=HTMLResponse, include_in_schema=False)
async def widget_page(request: Request, shop_slug: str) -> HTMLResponse:
    async with transaction(request.app.state.sessions) as session:
        shop = await conversations.shop_by_slug(session, shop_slug)
    locale = request_locale(request, request.app.state.settings.default_locale)
    boot = {
        "shop": shop.slug,
        "shop_name": shop.name,
        "locale": locale,
        "max_chars": request.app.state.settings.max_message_chars,
    }
    return render(
        request,
        "conversations/widget.html",
        {"shop": shop, "boot": boot, "strings": widget_strings(locale)},
    )


# --- the customer WebSocket ---------------------------------------------------------------------


class CustomerChannel:
    """One customer's socket: visitor identity, current conversation and its subscription."""

    def __init__(self, websocket: WebSocket, shop_id: int, subscription: Subscription) -> None:
        self.websocket = websocket
        self.state = websocket.app.state
        self.sender = Sender(websocket)
        self.shop_id = shop_id
        self.subscription = subscription
        self.visitor_id: int | None = None
        self.customer_id: int | None = None
        self.conversation_id: int | None = None
        self.last_typing = 0.0

    def follow(self, conversation_id: int) -> None:
        if self.conversation_id != conversation_id:
            if self.conversation_id is not None:
                self.subscription.discard(frames.customer_topic(self.conversation_id))
            self.conversation_id = conversation_id
            self.subscription.add(frames.customer_topic(conversation_id))

    async def handle(self, frame: Any) -> None:
        if isinstance(frame, HelloFrame):
            await self.hello(frame)
            return
        if self.customer_id is None:
            raise FrameError("hello_first", "send a hello frame first")
        if isinstance(frame, MessageFrame):
            await self.message(frame)
        elif isinstance(frame, IdentifyFrame):
            await self.identify(frame)
        elif isinstance(frame, TypingFrame):
            # Ephemeral and cheap to forge: at most one per second reaches the bus.
            now = time.monotonic()
            if self.conversation_id is not None and now - self.last_typing >= 1.0:
                self.last_typing = now
                await self.state.bus.publish(
                    frames.staff_topic(self.conversation_id),
                    {
                        "type": "typing",
                        "conversation_id": self.conversation_id,
                        "sender_type": "customer",
                    },
                )
        elif isinstance(frame, RatingFrame):
            await self.rating(frame)

    async def hello(self, frame: HelloFrame) -> None:
        async def work(session: AsyncSession) -> dict[str, Any]:
            visitor = await customers.get_or_create_visitor(
                session, shop_id=self.shop_id, token=frame.visitor_token
            )
            conversation = await conversations.latest_conversation(
                session, shop_id=self.shop_id, customer_id=visitor.customer_id
            )
            self.visitor_id, self.customer_id = visitor.id, visitor.customer_id
            ready: dict[str, Any] = {
                "type": "ready",
                "visitor_token": visitor.token,
                "conversation_id": conversation.id if conversation else None,
                "status": str(conversation.status) if conversation else None,
            }
            if conversation is None:
                return {"ready": ready, "missed": [], "survey": False}
            # Subscribe before reading the backlog: nothing committed in between is missed
            # (the widget drops duplicates by message id).
            self.follow(conversation.id)
            missed = await conversations.customer_messages_after(
                session, conversation_id=conversation.id, after=frame.last_message_id
            )
            survey = False
            if conversation.status == ConversationStatus.closed:
                survey = (
                    await surveys.rating_for_conversation(session, conversation_id=conversation.id)
                    is None
                )
            return {
                "ready": ready,
                "missed": [
                    frames.customer_message(m, conversations.sender_name(m)) for m in missed
                ],
                "survey": survey,
            }

        result = await run_unit(self.state, work)
        await self.sender.send(result["ready"])
        for message in result["missed"]:
            await self.sender.send({"type": "message.created", "message": message})
        if result["survey"]:
            await self.sender.send(
                {
                    "type": "conversation.closed",
                    "conversation_id": self.conversation_id,
                    "survey": True,
                }
            )

    async def message(self, frame: MessageFrame) -> None:
        customer_id = self.customer_id
        assert customer_id is not None

        turn = WriteTurn(self.state)

        async def work(session: AsyncSession) -> conversations.CustomerPost:
            # Reads and the bot's thinking first; the write turn only for storing.
            plan = await conversations.prepare_customer_message(
                session,
                shop_id=self.shop_id,
                customer_id=customer_id,
                client_msg_id=frame.client_msg_id,
                body=frame.body,
                bot_registry=self.state.bot,
                wants_human=frame.handoff,
                max_chars=self.state.settings.max_message_chars,
            )
            await turn.take()
            return await conversations.store_customer_message(session, plan=plan)

        # A conversation opened by this very frame is followed before its frames go out.
        previous = self.conversation_id
        post = await run_unit(
            self.state, work, turn=turn, before_publish=lambda p: self.follow(p.conversation.id)
        )
        if post.conversation.id != previous:
            await self.sender.send(
                {
                    "type": "ready",
                    "conversation_id": post.conversation.id,
                    "status": str(post.conversation.status),
                }
            )
        await self.sender.send(
            {"type": "ack", "client_msg_id": frame.client_msg_id, "message_id": post.message.id}
        )

    async def identify(self, frame: IdentifyFrame) -> None:
        visitor_id = self.visitor_id

        async def work(session: AsyncSession) -> dict[str, Any]:
            from xiaoer.customers.models import VisitorIdentity

            visitor = await session.get(VisitorIdentity, visitor_id)
            assert visitor is not None
            found = await customers.identify_visitor(
                session,
                visitor=visitor,
                phone=frame.phone if (frame.phone or "").strip() else None,
                order_no=frame.order_no if (frame.order_no or "").strip() else None,
            )
            if self.conversation_id is not None:
                conversation = await session.get(conversations.Conversation, self.conversation_id)
                if conversation is not None and conversation.status != ConversationStatus.closed:
                    await conversations.link_customer(
                        session,
                        conversation,
                        customer_id=found.customer.id,
                        order_id=found.order.id if found.order else None,
                    )
            self.customer_id = found.customer.id
            return {
                "type": "identified",
                "customer_name": customers.mask_name(found.customer.name),
                "order_no": found.order.order_no if found.order else None,
            }

        await self.sender.send(await run_unit(self.state, work))

    async def rating(self, frame: RatingFrame) -> None:
        conversation_id = self.conversation_id
        if conversation_id is None:
            raise FrameError("not_closed", "there is no conversation to rate")

        async def work(session: AsyncSession) -> None:
            conversation = await session.get(conversations.Conversation, conversation_id)
            assert conversation is not None
            await surveys.record_rating(
                session, conversation=conversation, rating=frame.rating, comment=frame.comment
            )

        await run_unit(self.state, work)
        # `rating.saved` reaches this socket through the conversation topic.


async def _shop_id(websocket: WebSocket, slug: str) -> int | None:
    try:
        async with transaction(websocket.app.state.sessions) as session:
            return (await conversations.shop_by_slug(session, slug)).id
    except NotFound:
        return None


async def serve_frames(
    websocket: WebSocket,
    sender: Sender,
    handle: Callable[[Any], Awaitable[None]],
    parse: Callable[[str], Any],
) -> None:
    """The receive loop shared by customer and staff sockets: bad frames get an error frame and
    the connection stays usable; domain errors become error frames with their code."""
    while True:
        raw = await websocket.receive_text()
        try:
            frame = parse(raw)
            bind_ids(conversation_id=getattr(frame, "conversation_id", None))
            await handle(frame)
        except FrameError as exc:
            await sender.send(error_frame(exc.code, exc.message))
        except DomainError as exc:
            await sender.send(error_frame(exc.code, exc.message))
        except WebSocketDisconnect:
            raise
        except Exception:  # one bad frame must not end the chat; the client may retry it
            log.exception("websocket_frame_failed", path=websocket.url.path)
            await sender.send(
                error_frame("internal_error", "the server could not process this frame")
            )


@router.websocket("/ws/chat/{shop_slug}")
async def customer_socket(websocket: WebSocket, shop_slug: str) -> None:
    await websocket.accept()
    shop_id = await _shop_id(websocket, shop_slug)
    if shop_id is None:
        await websocket.send_text(json.dumps(error_frame("not_found", "shop not found")))
        await websocket.close(code=4404)
        return
    start_request_context(websocket.headers.get("x-request-id"))
    bind_ids(shop_id=shop_id)
    subscription = websocket.app.state.bus.subscribe([])
    channel = CustomerChannel(websocket, shop_id, subscription)
    pusher = asyncio.create_task(pump(subscription, channel.sender))
    metrics.WS_CONNECTIONS.labels("customer").inc()
    try:
        await serve_frames(
            websocket,
            channel.sender,
            channel.handle,
            lambda raw: parse_frame(raw, _customer_frame, CUSTOMER_FRAME_TYPES),
        )
    except WebSocketDisconnect:
        pass
    finally:
        metrics.WS_CONNECTIONS.labels("customer").dec()
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pusher
        subscription.close()
