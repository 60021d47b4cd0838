"""Survey routes: the customer's rating over HTTP (the widget's fallback to its WebSocket frame)
and staff reads of ratings by conversation, customer or ticket."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from xiaoer.bounds import INT64_MAX
from xiaoer.conversations import service as conversations
from xiaoer.customers import service as customers
from xiaoer.customers import verification
from xiaoer.customers.models import VisitorIdentity
from xiaoer.errors import InvalidInput, NotFound
from xiaoer.shops import service as shops
from xiaoer.surveys import service as surveys
from xiaoer.tickets import service as tickets
from xiaoer.web.deps import DB, CurrentUser

router = APIRouter(prefix="/api/v1", tags=["surveys"])


class RatingIn(BaseModel):
    visitor_token: str = Field(min_length=16, max_length=64)
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


@router.post("/chat/{shop_slug}/rating", status_code=201)
async def rate_conversation(session: DB, shop_slug: str, body: RatingIn) -> dict[str, Any]:
    """Rates the visitor's latest conversation once it is closed; a second rating is 409.
    The visitor token (kept in the customer's browser) is the credential."""
    shop = await shops.shop_by_slug(session, shop_slug)
    visitor = await session.scalar(
        select(VisitorIdentity).where(
            VisitorIdentity.shop_id == shop.id, VisitorIdentity.token == body.visitor_token
        )
    )
    if visitor is None:
        raise NotFound("unknown visitor")
    # During a verified session the visitor's conversation is the verified customer's.
    customer_id = verification.verified_customer_id(visitor) or visitor.customer_id
    conversation = await conversations.latest_conversation(
        session, shop_id=shop.id, customer_id=customer_id
    )
    if conversation is None:
        raise NotFound("no conversation to rate")
    response = await surveys.record_rating(
        session, conversation=conversation, rating=body.rating, comment=body.comment
    )
    return surveys.rating_dict(response)


@router.get("/surveys")
async def list_ratings(
    session: DB,
    user: CurrentUser,
    conversation_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> list[dict[str, Any]]:
    """Ratings of one conversation, one customer, or the conversation a ticket came from."""
    if conversation_id is not None:
        conversation = await conversations.access_conversation(session, user, conversation_id)
        found = await surveys.rating_for_conversation(session, conversation_id=conversation.id)
        return [found] if found else []
    if customer_id is not None:
        customer = await customers.access_customer(session, user, customer_id)
        return await surveys.ratings_for_customer(
            session, shop_id=user.shop_id, customer_id=customer.id
        )
    if ticket_id is not None:
        ticket = await tickets.access_ticket(session, user, ticket_id)
        found = await surveys.rating_for_ticket(session, ticket=ticket)
        return [found] if found else []
    raise InvalidInput("give conversation_id, customer_id or ticket_id")
