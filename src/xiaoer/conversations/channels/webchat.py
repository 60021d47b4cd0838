"""Web chat channel: the widget page and its WebSocket (docs/subsystems/chat-protocol.md).

Each inbound frame is one unit of work (`xiaoer.realtime.units.run_unit`): its own transaction,
committed before the `ack`, then the frames the service queued are published. A frame that races
another on a unique key (a resend of the same client message id) is retried once; the retry finds
the stored row and acks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import metrics
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
from xiaoer.errors import NotFound
from xiaoer.events import Subscription
from xiaoer.logs import bind_ids, start_request_context
from xiaoer.realtime.sockets import FrameError, Sender, error_frame, pump, serve_frames
from xiaoer.realtime.units import WriteTurn, run_unit
from xiaoer.shops.widget import widget_settings
from xiaoer.surveys import service as surveys
from xiaoer.web.i18n import catalog, request_locale
from xiaoer.web.security import content_security_policy, widget_frame_ancestors
from xiaoer.web.templating import render

log = structlog.get_logger(__name__)
router = APIRouter()
T = TypeVar("T")

MAX_FRAME_BYTES = 64 * 1024
_customer_frame: TypeAdapter[Any] = TypeAdapter(CustomerFrame)


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
    response = render(
        request,
        "conversations/widget.html",
        {
            "shop": shop,
            "boot": boot,
            "strings": widget_strings(locale),
            "brand_color": widget_settings(shop).effective_color,
        },
    )
    # Only the shop's own sites may frame its widget; staff pages keep frame-ancestors 'none'.
    response.headers["Content-Security-Policy"] = content_security_policy(
        frame_ancestors=widget_frame_ancestors(widget_settings(shop).origins)
    )
    return response


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
