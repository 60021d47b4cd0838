"""Staff JSON API under /api/v1/conversations and the staff WebSocket /ws/agent.

Routes parse input, fetch through `access_conversation` (NotFound for other shops), call the
service and return JSON; the `DB` dependency commits before the response and then publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from xiaoer import metrics
from xiaoer.assist import suggestions as assist_suggestions
from xiaoer.auth.models import SessionStage, User
from xiaoer.bounds import INT64_MAX, Id
from xiaoer.conversations import frames, inbox, replies
from xiaoer.conversations import service as conversations
from xiaoer.conversations.channels.webchat import parse_frame
from xiaoer.conversations.models import ConversationStatus
from xiaoer.conversations.schemas import (
    STAFF_FRAME_TYPES,
    ReadIn,
    StaffFrame,
    StaffMessageIn,
    StaffTypingFrame,
    TransferIn,
    WatchFrame,
)
from xiaoer.db import transaction
from xiaoer.errors import Forbidden
from xiaoer.logs import bind_ids, start_request_context
from xiaoer.realtime.sockets import Sender, pump, serve_frames
from xiaoer.realtime.units import run_unit
from xiaoer.surveys.service import rating_for_conversation
from xiaoer.web.deps import (
    DB,
    CurrentUser,
    client_ip,
    login_throttle,
    read_session_cookie,
    session_for_cookie,
    user_actor,
)

log = structlog.get_logger(__name__)
api = APIRouter(prefix="/api/v1", tags=["conversations"])
router = APIRouter()  # what app.py mounts: the JSON routes plus the staff WebSocket

ViewParam = Annotated[str, Query(pattern="^(queue|mine|open|closed)$")]


def _blocked_response(exc: replies.ReplyBlocked) -> JSONResponse:
    return JSONResponse(
        {"error": exc.code, "message": exc.message, **exc.check.public()}, status_code=422
    )


def _refused_response(exc: replies.OverrideRefused | replies.OverrideThrottled) -> JSONResponse:
    """Returned rather than raised: the refusal's audit entry must be committed."""
    response = JSONResponse(
        {"error": exc.code, "message": exc.message}, status_code=exc.status_code
    )
    if isinstance(exc, replies.OverrideThrottled):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@api.get("/conversations")
async def list_conversations(
    session: DB, user: CurrentUser, view: ViewParam = "queue"
) -> list[dict[str, Any]]:
    return await inbox.list_conversations(session, viewer=user, view=view)  # type: ignore[arg-type]


@api.get("/conversations/{conversation_id}")
async def get_conversation(session: DB, user: CurrentUser, conversation_id: Id) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    detail = await inbox.conversation_detail(session, conversation=conversation, viewer=user)
    detail["rating"] = await rating_for_conversation(session, conversation_id=conversation.id)
    return detail


@api.get("/conversations/{conversation_id}/messages")
async def list_messages(
    session: DB,
    user: CurrentUser,
    conversation_id: Id,
    after: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> list[dict[str, Any]]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    return await inbox.messages_after(session, conversation=conversation, after=after)


async def _summary(session: DB, user: User, conversation_id: Id) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    (summary,) = await inbox.summaries(session, [conversation], viewer=user)
    return summary


@api.post("/conversations/{conversation_id}/accept")
async def accept(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id
) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    await conversations.accept_conversation(
        session, conversation=conversation, user=user, actor=user_actor(request, user)
    )
    return await _summary(session, user, conversation_id)


@api.post("/conversations/{conversation_id}/messages", response_model=None)
async def post_message(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id, body: StaffMessageIn
) -> dict[str, Any] | JSONResponse:
    """A reply or note. A reply the compliance lint blocks is refused (422 with the findings)
    unless `override` carries a supervisor's approval."""
    conversation = await conversations.access_conversation(session, user, conversation_id)
    actor = user_actor(request, user)
    try:
        approver = await _approver(request, session, user, conversation.shop_id, body, actor)
        message = await conversations.post_staff_message(
            session,
            conversation=conversation,
            user=user,
            body=body.body,
            internal=body.internal,
            client_msg_id=body.client_msg_id,
            max_chars=request.app.state.settings.max_message_chars,
            script_id=body.assist.script_id if body.assist and not body.internal else None,
            inserted_text=body.assist.inserted_text if body.assist else None,
            approver=approver,
            actor=actor,
        )
    except replies.ReplyBlocked as exc:
        return _blocked_response(exc)
    except (replies.OverrideRefused, replies.OverrideThrottled) as exc:
        return _refused_response(exc)
    return frames.staff_message(message, conversations.sender_name(message))


async def _approver(
    request: Request, session: DB, user: User, shop_id: Id, body: StaffMessageIn, actor: Any
) -> User | None:
    """Who approves a blocked reply: the supervisor whose credentials were typed into the
    override dialog, or the sender when a supervisor or admin confirms it themselves."""
    override = body.override
    if override is None or body.internal:
        return None
    if (override.username or "").strip():
        return await replies.verify_approver(
            session,
            shop_id=shop_id,
            username=override.username or "",
            password=override.password or "",
            ip=client_ip(request),
            throttle=login_throttle(request),
            actor=actor,
        )
    if not replies.may_approve_self(user):
        raise Forbidden("only a supervisor or admin may approve a blocked reply")
    return user


@api.post("/conversations/{conversation_id}/typing", status_code=204)
async def typing(request: Request, session: DB, user: CurrentUser, conversation_id: Id) -> Response:
    """Ephemeral: pushed to the customer straight away, never stored."""
    conversation = await conversations.access_conversation(session, user, conversation_id)
    if conversation.status == ConversationStatus.active:
        await request.app.state.bus.publish(
            frames.customer_topic(conversation.id),
            {"type": "typing", "conversation_id": conversation.id, "sender_type": "agent"},
        )
    return Response(status_code=204)


@api.post("/conversations/{conversation_id}/read", status_code=204)
async def mark_read(session: DB, user: CurrentUser, conversation_id: Id, body: ReadIn) -> Response:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    await inbox.mark_read(session, conversation=conversation, user=user, message_id=body.message_id)
    return Response(status_code=204)


@api.post("/conversations/{conversation_id}/transfer")
async def transfer(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id, body: TransferIn
) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    await conversations.transfer_conversation(
        session,
        conversation=conversation,
        user=user,
        agent_id=body.agent_id,
        actor=user_actor(request, user),
    )
    return await _summary(session, user, conversation_id)


@api.post("/conversations/{conversation_id}/close")
async def close(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id
) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    await conversations.close_conversation(
        session, conversation=conversation, user=user, actor=user_actor(request, user)
    )
    return await _summary(session, user, conversation_id)


@api.get("/conversations/{conversation_id}/suggestions")
async def suggestions(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id
) -> list[dict[str, Any]]:
    """Top 3 scripts for the latest customer message, ranked by match and past success, in the
    conversation's channel wording, variables filled (the assist panel has the full picture)."""
    conversation = await conversations.access_conversation(session, user, conversation_id)
    ranked = await assist_suggestions.ranked_suggestions(
        session,
        registry=request.app.state.bot,
        conversation=conversation,
        cache=assist_suggestions.success_cache_of(request.app.state),
    )
    return [r.public() for r in ranked]


# --- staff WebSocket ----------------------------------------------------------------------------

_staff_frame: TypeAdapter[Any] = TypeAdapter(StaffFrame)
RECHECK_SECONDS = 60.0


def _same_origin(websocket: WebSocket) -> bool:
    """Browsers send Origin on WebSocket handshakes; refusing foreign origins stops another site
    from riding an agent's cookie (cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # non-browser clients (tests, tools) still need the session cookie
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


async def _staff_user(websocket: WebSocket, cookie: dict[str, Any] | None) -> User | None:
    """The user of the live, fully logged-in server-side session the cookie names."""
    if not cookie:
        return None
    async with transaction(websocket.app.state.sessions) as session:
        found = await session_for_cookie(session, websocket.app.state.settings, cookie)
        if found is None or found[0].stage != SessionStage.active:
            return None
        return found[1]


class StaffChannel:
    def __init__(self, websocket: WebSocket, user: User, cookie: dict[str, Any]) -> None:
        self.websocket = websocket
        self.state = websocket.app.state
        self.user = user
        self.cookie = cookie
        self.sender = Sender(websocket)
        self.subscription = self.state.bus.subscribe(
            [frames.queue_topic(user.shop_id), frames.agent_topic(user.id)]
        )

    async def handle(self, frame: Any) -> None:
        if isinstance(frame, WatchFrame):
            if frame.type == "unwatch":
                self.subscription.discard(frames.staff_topic(frame.conversation_id))
                return

            async def check(session: Any) -> None:
                await conversations.access_conversation(session, self.user, frame.conversation_id)

            await run_unit(self.state, check)
            self.subscription.add(frames.staff_topic(frame.conversation_id))
            await self.sender.send({"type": "watching", "conversation_id": frame.conversation_id})
        elif isinstance(frame, StaffTypingFrame):

            async def load(session: Any) -> Any:
                return await conversations.access_conversation(
                    session, self.user, frame.conversation_id
                )

            conversation = await run_unit(self.state, load)
            if conversation.status == ConversationStatus.active:
                await self.state.bus.publish(
                    frames.customer_topic(conversation.id),
                    {"type": "typing", "conversation_id": conversation.id, "sender_type": "agent"},
                )

    async def still_valid(self) -> None:
        """Deactivation or a password reset must also end live sockets, not just new requests."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if await _staff_user(self.websocket, self.cookie) is None:
                await self.sender.send(
                    {"type": "error", "code": "unauthorized", "message": "session ended"}
                )
                await self.websocket.close(code=4401)
                return


@router.websocket("/ws/agent")
async def staff_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    cookie = read_session_cookie(cast(Request, websocket)) if _same_origin(websocket) else None
    user = await _staff_user(websocket, cookie)
    if user is None or cookie is None:
        await websocket.send_json(
            {"type": "error", "code": "unauthorized", "message": "login required"}
        )
        await websocket.close(code=4401)
        return
    start_request_context(websocket.headers.get("x-request-id"))
    bind_ids(shop_id=user.shop_id, user_id=user.id)
    channel = StaffChannel(websocket, user, cookie)
    tasks = [
        asyncio.create_task(pump(channel.subscription, channel.sender)),
        asyncio.create_task(channel.still_valid()),
    ]
    metrics.WS_CONNECTIONS.labels("agent").inc()
    try:
        await channel.sender.send({"type": "ready", "user_id": user.id, "shop_id": user.shop_id})
        await serve_frames(
            websocket,
            channel.sender,
            channel.handle,
            lambda raw: parse_frame(raw, _staff_frame, STAFF_FRAME_TYPES),
        )
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        metrics.WS_CONNECTIONS.labels("agent").dec()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        channel.subscription.close()


router.include_router(api)
