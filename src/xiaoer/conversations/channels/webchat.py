"""Web chat channel: the widget page and its WebSocket (docs/subsystems/chat-protocol.md).

Each inbound frame is one unit of work (`xiaoer.realtime.units.run_unit`): its own transaction,
committed before the `ack`, then the frames the service queued are published. A frame that races
another on a unique key (a resend of the same client message id) is retried once; the retry finds
the stored row and acks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, metrics
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.conversations import frames
from xiaoer.conversations import service as conversations
from xiaoer.conversations.models import ConversationStatus
from xiaoer.conversations.schemas import (
    CUSTOMER_FRAME_TYPES,
    MAX_FRAME_BYTES,
    MAX_FRAME_DEPTH,
    CodeRequestFrame,
    CustomerFrame,
    HelloFrame,
    IdentifyFrame,
    MessageFrame,
    RatingFrame,
    TypingFrame,
    VerifyFrame,
)
from xiaoer.customers import service as customers
from xiaoer.customers import verification
from xiaoer.customers.delivery import CodeSender, DeliveryFailed, make_senders
from xiaoer.customers.models import Customer
from xiaoer.db import transaction
from xiaoer.errors import NotFound
from xiaoer.events import Subscription
from xiaoer.logs import bind_ids, start_request_context
from xiaoer.ratelimit import MemoryRateLimiter
from xiaoer.realtime.sockets import FrameError, Sender, error_frame, pump, serve_frames
from xiaoer.realtime.units import WriteTurn, run_unit
from xiaoer.shops import service as shops
from xiaoer.shops.widget import widget_settings
from xiaoer.surveys import service as surveys
from xiaoer.web.clientip import client_ip
from xiaoer.web.i18n import catalog, request_locale
from xiaoer.web.security import content_security_policy, widget_frame_ancestors
from xiaoer.web.templating import render

log = structlog.get_logger(__name__)
router = APIRouter()
T = TypeVar("T")

_customer_frame: TypeAdapter[Any] = TypeAdapter(CustomerFrame)


def _too_deep(data: Any, limit: int) -> bool:
    """Iterative, so a hostile frame cannot exhaust the stack while being measured."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def parse_frame(raw: str, adapter: TypeAdapter[Any], known: tuple[str, ...]) -> Any:
    """Raw text to a frame model, or FrameError with a code the client can act on."""
    if len(raw) > MAX_FRAME_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("malformed", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("malformed", "frame must be a JSON object")
    if _too_deep(data, MAX_FRAME_DEPTH):
        raise FrameError("malformed", "frame is nested too deeply")
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
        shop = await shops.shop_by_slug(session, shop_slug)
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


@dataclass(frozen=True)
class Limit:
    limit: int
    window_s: int


@dataclass(frozen=True)
class WidgetLimits:
    """Flood limits of the widget socket; `app.state.widget_limits` overrides them (tests)."""

    hello_per_connection: Limit = Limit(10, 60)
    hello_per_visitor: Limit = Limit(30, 60)
    hello_per_ip: Limit = Limit(60, 60)
    message_per_connection: Limit = Limit(20, 60)
    message_per_visitor: Limit = Limit(30, 60)
    message_per_ip: Limit = Limit(120, 60)
    verify_per_visitor: Limit = Limit(10, 900)
    verify_per_ip: Limit = Limit(30, 900)
    verify_per_target: Limit = Limit(5, 900)
    code_per_target: Limit = Limit(3, 900)

    @classmethod
    def from_settings(cls, settings: Any) -> WidgetLimits:
        limits = settings.widget_limits
        return cls(
            hello_per_ip=Limit(limits.hellos_per_ip_per_minute, 60),
            message_per_ip=Limit(limits.messages_per_ip_per_minute, 60),
            message_per_visitor=Limit(limits.messages_per_visitor_per_minute, 60),
            message_per_connection=Limit(limits.messages_per_connection_per_minute, 60),
        )


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class CustomerChannel:
    """One customer's socket: the visitor token, whom the visitor has proved to be (if
    anyone), the current conversation and its subscription.

    `own_customer_id` is the visitor's anonymous record (None until they say something);
    `customer_id` is whose conversation this socket reads and writes: the verified customer
    while the verified session lasts, else the visitor's own record."""

    def __init__(self, websocket: WebSocket, shop_id: int, subscription: Subscription) -> None:
        self.websocket = websocket
        self.state = websocket.app.state
        self.settings = self.state.settings
        self.sender = Sender(websocket)
        self.shop_id = shop_id
        self.subscription = subscription
        self.ip = client_ip(websocket)
        self.limits: WidgetLimits = getattr(
            self.state, "widget_limits", None
        ) or WidgetLimits.from_settings(self.settings)
        # Per-connection counters need no sharing between processes.
        self.own_limiter = MemoryRateLimiter()
        self.visitor_token: str | None = None
        self.own_customer_id: int | None = None
        # A visitor row an earlier version linked to a real customer on a bare claim.
        self.claimed_record = False
        self.customer_id: int | None = None
        self.verified_until: dt.datetime | None = None
        self.conversation_id: int | None = None
        self.last_typing = 0.0
        self.deliveries: set[asyncio.Task[None]] = set()

    @property
    def verified(self) -> bool:
        return self.verified_until is not None

    def follow(self, conversation_id: int) -> None:
        if self.conversation_id != conversation_id:
            self.unfollow()
            self.conversation_id = conversation_id
            self.subscription.add(frames.customer_topic(conversation_id))

    def unfollow(self) -> None:
        if self.conversation_id is not None:
            self.subscription.discard(frames.customer_topic(self.conversation_id))
            self.conversation_id = None

    def actor(self) -> Actor:
        token = self.visitor_token or ""
        return Actor(type="visitor", name=f"visitor {token[:6]}", shop_id=self.shop_id, ip=self.ip)

    async def _limit(self, *checks: tuple[str, Limit]) -> None:
        """Counts one hit on every key; any exhausted one refuses the frame. Keys starting
        with `conn:` count on this connection only, the rest across processes."""
        worst = 0.0
        for key, limit in checks:
            limiter = self.own_limiter if key.startswith("conn:") else self.state.ratelimiter
            decision = await limiter.hit(
                f"chat:{self.shop_id}:{key}", limit=limit.limit, window_s=limit.window_s
            )
            if not decision.allowed:
                worst = max(worst, decision.retry_after)
        if worst:
            log.warning("widget_rate_limited", shop_id=self.shop_id, ip=self.ip, key=checks[0][0])
            raise Throttled(worst)

    async def handle(self, frame: Any) -> None:
        try:
            await self._dispatch(frame)
        except Throttled as exc:
            await self.sender.send(
                error_frame(
                    "rate_limited",
                    "too many requests, try again later",
                    retry_after=max(1, round(exc.retry_after)),
                )
            )

    async def _dispatch(self, frame: Any) -> None:
        if isinstance(frame, HelloFrame):
            await self.hello(frame)
            return
        if self.visitor_token is None:
            raise FrameError("hello_first", "send a hello frame first")
        await self._expire_if_due()
        if isinstance(frame, MessageFrame):
            await self.message(frame)
        elif isinstance(frame, VerifyFrame):
            await self.verify(frame)
        elif isinstance(frame, CodeRequestFrame):
            await self.request_code(frame)
        elif isinstance(frame, IdentifyFrame):
            raise FrameError(
                "verification_required",
                "a phone or order number alone proves nothing: send a verify frame",
            )
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

    async def _expire_if_due(self) -> None:
        """A verified session ends on time even on a socket that stays open."""
        if self.verified_until is None or clock.now() < self.verified_until:
            return
        self.verified_until = None
        self.customer_id = None if self.claimed_record else self.own_customer_id
        self.unfollow()
        await self.sender.send({"type": "verification_expired"})

    # ---- hello: who is this browser, and what may it see ----------------------------------

    async def hello(self, frame: HelloFrame) -> None:
        checks = [
            ("conn:hello", self.limits.hello_per_connection),
            (f"hello:ip:{self.ip}", self.limits.hello_per_ip),
        ]
        if frame.visitor_token:
            # Many sockets resuming one visitor (a reconnect loop, a script) count together.
            checks.append((f"hello:visitor:{frame.visitor_token}", self.limits.hello_per_visitor))
        await self._limit(*checks)
        secret_key = self.settings.secret_key

        async def work(session: AsyncSession) -> dict[str, Any]:
            token = frame.visitor_token or ""
            visitor = await verification.find_visitor(session, shop_id=self.shop_id, token=token)
            own_id: int | None = None
            claimed = False
            verified_id: int | None = None
            until: dt.datetime | None = None
            if visitor is not None:
                if await verification.own_record_is_anonymous(session, visitor):
                    own_id = visitor.customer_id
                else:
                    claimed = True
                verified_id = verification.verified_customer_id(visitor)
                until = visitor.verified_until if verified_id is not None else None
            elif not verification.token_is_ours(token, secret_key):
                # Unknown and not issued here: a fresh token. Nothing is written until the
                # visitor says something, so a hello flood costs no rows.
                token = verification.new_visitor_token(secret_key)
            customer_id = verified_id or own_id
            result: dict[str, Any] = {
                "token": token,
                "own": own_id,
                "claimed": claimed,
                "customer": customer_id,
                "until": until,
                "conversation": None,
                "missed": [],
                "survey": False,
            }
            if customer_id is not None:
                result.update(await self._resume(session, customer_id, frame.last_message_id))
            return result

        self.unfollow()
        # Reads only: a turn of its own that `work` never takes, so hello never waits for the
        # SQLite writer, yet it is admitted (or refused `busy`) like every other unit.
        result = await run_unit(self.state, work, turn=WriteTurn(self.state))
        self.visitor_token = result["token"]
        self.own_customer_id = result["own"]
        self.claimed_record = result["claimed"]
        self.customer_id = result["customer"]
        self.verified_until = result["until"]
        await self._send_resumed(result, ready_extra={"visitor_token": self.visitor_token})

    async def _resume(self, session: AsyncSession, customer_id: int, after: int) -> dict[str, Any]:
        conversation = await conversations.latest_conversation(
            session, shop_id=self.shop_id, customer_id=customer_id
        )
        if conversation is None:
            return {"conversation": None, "missed": [], "survey": False}
        # Subscribe before reading the backlog: nothing committed in between is missed
        # (the widget drops duplicates by message id).
        self.follow(conversation.id)
        missed = await conversations.customer_messages_after(
            session, conversation_id=conversation.id, after=after
        )
        survey = False
        if conversation.status == ConversationStatus.closed:
            survey = (
                await surveys.rating_for_conversation(session, conversation_id=conversation.id)
                is None
            )
        return {
            "conversation": (conversation.id, str(conversation.status)),
            "missed": [frames.customer_message(m, conversations.sender_name(m)) for m in missed],
            "survey": survey,
        }

    async def _send_resumed(self, result: dict[str, Any], ready_extra: dict[str, Any]) -> None:
        conversation = result["conversation"]
        if conversation is not None:
            self.follow(conversation[0])
        await self.sender.send(
            {
                "type": "ready",
                **ready_extra,
                "conversation_id": conversation[0] if conversation else None,
                "status": conversation[1] if conversation else None,
                "verified": self.verified,
                "verified_until": frames.iso(self.verified_until),
            }
        )
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

    async def _own_record(self, session: AsyncSession) -> int:
        """The visitor's anonymous record, written now if it does not exist yet."""
        assert self.visitor_token is not None
        visitor = await verification.ensure_visitor(
            session, shop_id=self.shop_id, token=self.visitor_token
        )
        if self.claimed_record:
            fresh = Customer(
                shop_id=self.shop_id,
                name=f"{customers.VISITOR_NAME_PREFIX}{self.visitor_token[:4]}",
                tags=[],
            )
            session.add(fresh)
            await session.flush()
            visitor.customer_id = fresh.id
        return visitor.customer_id

    # ---- messages -------------------------------------------------------------------------

    async def message(self, frame: MessageFrame) -> None:
        await self._limit(
            ("conn:message", self.limits.message_per_connection),
            (f"message:visitor:{self.visitor_token}", self.limits.message_per_visitor),
            (f"message:ip:{self.ip}", self.limits.message_per_ip),
        )
        turn = WriteTurn(self.state)
        created: dict[str, int] = {}

        async def work(session: AsyncSession) -> conversations.CustomerPost:
            customer_id = self.customer_id
            if customer_id is None:
                # The visitor's first words: only now does their anonymous record exist.
                await turn.take()
                customer_id = created["own"] = await self._own_record(session)
            # Reads and the bot's thinking first; the write turn only for storing.
            plan = await conversations.prepare_customer_message(
                session,
                shop_id=self.shop_id,
                customer_id=customer_id,
                client_msg_id=frame.client_msg_id,
                body=frame.body,
                bot_registry=self.state.bot,
                wants_human=frame.handoff,
                max_chars=self.settings.max_message_chars,
                order_access="own" if self.verified else "none",
            )
            await turn.take()
            return await conversations.store_customer_message(session, plan=plan)

        # A conversation opened by this very frame is followed before its frames go out.
        previous = self.conversation_id
        post = await run_unit(
            self.state, work, turn=turn, before_publish=lambda p: self.follow(p.conversation.id)
        )
        if "own" in created:
            self.own_customer_id = self.customer_id = created["own"]
            self.claimed_record = False
        if post.conversation.id != previous:
            await self.sender.send(
                {
                    "type": "ready",
                    "conversation_id": post.conversation.id,
                    "status": str(post.conversation.status),
                    "verified": self.verified,
                }
            )
        await self.sender.send(
            {"type": "ack", "client_msg_id": frame.client_msg_id, "message_id": post.message.id}
        )

    # ---- verification ---------------------------------------------------------------------

    def _locale(self) -> str:
        lang = self.websocket.query_params.get("lang")
        return lang if lang in ("zh-CN", "en") else str(self.settings.default_locale)

    def _senders(self) -> dict[str, CodeSender]:
        senders = getattr(self.state, "code_senders", None)
        if senders is None:
            senders = self.state.code_senders = make_senders(self.settings)
        return senders

    async def request_code(self, frame: CodeRequestFrame) -> None:
        sender = self._senders().get(frame.channel)
        if sender is None:
            raise FrameError("code_unavailable", f"codes by {frame.channel} are not available")
        target = verification.normalize_target(frame.channel, frame.target)
        await self._limit(
            (f"verify:visitor:{self.visitor_token}", self.limits.verify_per_visitor),
            (f"verify:ip:{self.ip}", self.limits.verify_per_ip),
            (f"code:target:{target}", self.limits.code_per_target),
        )
        minutes = self.settings.verification_code_minutes
        token = self.visitor_token
        assert token is not None

        async def work(session: AsyncSession) -> str | None:
            issued = await verification.issue_code(
                session,
                shop_id=self.shop_id,
                visitor_token=token,
                channel=frame.channel,
                target=target,
                secret_key=self.settings.secret_key,
                ttl=dt.timedelta(minutes=minutes),
            )
            return issued.code if issued else None

        code = await run_unit(self.state, work)
        log.info(
            "verification_code_requested",
            shop_id=self.shop_id,
            channel=frame.channel,
            found=code is not None,
            ip=self.ip,
        )
        if code is not None:
            # In the background: how long delivery takes must not tell whether the address
            # belongs to a customer (an unknown one is answered at once, with the same frame).
            task = asyncio.create_task(self._deliver(sender, target, code, int(minutes)))
            self.deliveries.add(task)
            task.add_done_callback(self.deliveries.discard)
        await self.sender.send(
            {
                "type": "code_sent",
                "channel": frame.channel,
                "target": verification.mask_target(frame.channel, target),
                "expires_in": int(minutes * 60),
            }
        )

    async def _deliver(self, sender: CodeSender, target: str, code: str, minutes: int) -> None:
        try:
            await sender.send(target, code, locale=self._locale(), minutes=minutes)
        except DeliveryFailed:
            log.warning("verification_code_not_delivered", shop_id=self.shop_id)

    async def verify(self, frame: VerifyFrame) -> None:
        checks: list[tuple[str, Limit]] = [
            (f"verify:visitor:{self.visitor_token}", self.limits.verify_per_visitor),
            (f"verify:ip:{self.ip}", self.limits.verify_per_ip),
        ]
        described: str = frame.method
        if frame.method == "order":
            order_no = verification.normalize_order_no(frame.order_no or "")
            checks.append((f"verify:order:{order_no}", self.limits.verify_per_target))
            described = f"order {order_no[:24]}"
        await self._limit(*checks)
        token = self.visitor_token
        assert token is not None
        lifetime = dt.timedelta(hours=self.settings.verified_session_hours)

        async def work(session: AsyncSession) -> dict[str, Any] | None:
            customer: Customer | None = None
            order_id: int | None = None
            if frame.method == "token":
                secret = await verification.identity_secret(session, shop_id=self.shop_id)
                external_id = verification.check_identity_token(
                    secret.secret, frame.token or "", clock.now()
                )
                if external_id is not None:
                    customer = await verification.customer_for_external_id(
                        session, shop_id=self.shop_id, external_id=external_id
                    )
            elif frame.method == "order":
                found = await verification.check_order_claim(
                    session,
                    shop_id=self.shop_id,
                    order_no=frame.order_no or "",
                    phone_last4=frame.phone_last4 or "",
                )
                if found is not None:
                    customer, order_id = found[0], found[1].id
            else:
                row = await verification.check_code(
                    session,
                    shop_id=self.shop_id,
                    visitor_token=token,
                    code=frame.code or "",
                    secret_key=self.settings.secret_key,
                    max_attempts=self.settings.verification_code_attempts,
                )
                if row is not None and row.customer_id is not None:
                    customer = await session.get(Customer, row.customer_id)
            if customer is None:
                # Committed with the attempt count: a failure is on the record.
                await audit.record(
                    session,
                    actor=self.actor(),
                    action="chat.verify_failed",
                    entity_type="visitor",
                    entity_id=token[:12],
                    after={"method": frame.method, "claim": described},
                )
                return None
            own_id = await self._own_record(session)
            visitor = await verification.ensure_visitor(session, shop_id=self.shop_id, token=token)
            until = await verification.start_session(
                session,
                visitor=visitor,
                customer_id=customer.id,
                method=frame.method,
                lifetime=lifetime,
            )
            moved = await conversations.move_customer_conversations(
                session,
                shop_id=self.shop_id,
                from_customer_id=own_id,
                to_customer_id=customer.id,
                order_id=order_id,
            )
            await audit.record(
                session,
                actor=self.actor(),
                action="chat.verified",
                entity_type="customer",
                entity_id=customer.id,
                after={"method": frame.method, "conversations": moved},
            )
            resumed = await self._resume(session, customer.id, 0)
            return {
                "own": own_id,
                "customer": customer.id,
                "name": customers.mask_name(customer.name),
                "until": until,
                "resumed": resumed,
            }

        result = await run_unit(self.state, work)
        if result is None:
            log.warning(
                "widget_verification_failed",
                shop_id=self.shop_id,
                ip=self.ip,
                method=frame.method,
            )
            raise FrameError("verification_failed", "the details do not match")
        self.own_customer_id = result["own"]
        self.claimed_record = False
        self.customer_id = result["customer"]
        self.verified_until = result["until"]
        # The conversation first, then `verified`: the widget's `ready` clears its banner.
        await self._send_resumed(result["resumed"], ready_extra={})
        await self.sender.send(
            {
                "type": "verified",
                "method": frame.method,
                "customer_name": result["name"],
                "verified_until": frames.iso(self.verified_until),
            }
        )

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
            return (await shops.shop_by_slug(session, slug)).id
    except NotFound:
        return None


class _TextOnly:
    """The customer socket as `serve_frames` reads it: a binary frame is not part of the
    protocol, so it ends the connection with a close frame (1003) instead of an exception."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self.url = websocket.url

    async def receive_text(self) -> str:
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            await self._websocket.send_text(
                json.dumps(error_frame("binary_frame", "only text frames are accepted"))
            )
            await self._websocket.close(code=1003)
            raise WebSocketDisconnect(1003)
        return str(text)

    async def close(self, code: int = 1000) -> None:
        await self._websocket.close(code=code)

    def __getattr__(self, name: str) -> Any:
        # Everything else (app, url, headers, query_params …) is the socket's own.
        return getattr(self._websocket, name)


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
            _TextOnly(websocket),  # type: ignore[arg-type]
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
