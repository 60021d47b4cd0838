"""Assist JSON API under /api/v1/assist: the panel (suggestions, emotion alert, calming pack,
repeat-inquiry summary), the live lint of a draft, the `/` script search, usage events and
proposals. Every conversation id goes through `access_conversation` (404 for other shops)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from xiaoer.assist import search, suggestions
from xiaoer.assist import service as assist
from xiaoer.assist.schemas import LintIn, ProposalIn, UsageIn
from xiaoer.bounds import INT64_MAX, Id
from xiaoer.conversations import service as conversations
from xiaoer.web.deps import DB, CurrentUser, user_actor

router = APIRouter(prefix="/api/v1/assist", tags=["assist"])


def success_cache(request: Request) -> suggestions.SuccessCache:
    return suggestions.success_cache_of(request.app.state)


@router.get("/conversations/{conversation_id}/panel")
async def panel(
    request: Request, session: DB, user: CurrentUser, conversation_id: Id
) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, conversation_id)
    return await suggestions.panel(
        session,
        registry=request.app.state.bot,
        conversation=conversation,
        cache=success_cache(request),
    )


@router.post("/lint")
async def lint_draft(session: DB, user: CurrentUser, body: LintIn) -> dict[str, Any]:
    """The live check under the reply box: the same rules and context as sending."""
    conversation = await conversations.access_conversation(session, user, body.conversation_id)
    check = await assist.check_reply(
        session, conversation=conversation, user=user, text=body.text, script_id=body.script_id
    )
    return check.public()


@router.get("/scripts")
async def search_scripts(
    request: Request,
    session: DB,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=100)] = "",
    conversation_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=30)] = search.MAX_RESULTS,
) -> list[dict[str, Any]]:
    conversation = None
    if conversation_id is not None:
        conversation = await conversations.access_conversation(session, user, conversation_id)
    return await search.search_scripts(
        session,
        registry=request.app.state.bot,
        conversation=conversation,
        shop_id=user.shop_id,
        query=q,
        limit=limit,
    )


@router.post("/usage", status_code=204)
async def record_usage(request: Request, session: DB, user: CurrentUser, body: UsageIn) -> Response:
    """The agent inserted a script into the reply box (counted once per customer message)."""
    conversation = await conversations.access_conversation(session, user, body.conversation_id)
    await assist.record_inserted(
        session,
        conversation=conversation,
        user=user,
        script_id=body.script_id,
    )
    return Response(status_code=204)


@router.post("/proposals", status_code=201)
async def propose(
    request: Request, session: DB, user: CurrentUser, body: ProposalIn
) -> dict[str, Any]:
    conversation = await conversations.access_conversation(session, user, body.conversation_id)
    proposal = await assist.create_proposal(
        session,
        user=user,
        actor=user_actor(request, user),
        conversation=conversation,
        message_id=body.message_id,
        kind=body.kind,
        script_id=body.script_id,
        title=body.title,
        answer=body.answer,
    )
    return assist.proposal_public(proposal)
