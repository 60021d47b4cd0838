"""Customer satisfaction: one rating (1–5) and comment per closed conversation.

Public functions: `record_rating`, `rating_for_conversation`, `ratings_for_customer`,
`rating_for_ticket`, `rating_dict`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import events, outbox
from xiaoer.conversations import frames
from xiaoer.conversations.models import Conversation, ConversationStatus
from xiaoer.errors import Conflict, InvalidInput
from xiaoer.surveys.events import RatingSaved
from xiaoer.surveys.models import SurveyResponse

MAX_COMMENT_CHARS = 1000


def rating_dict(response: SurveyResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "conversation_id": response.conversation_id,
        "customer_id": response.customer_id,
        "rating": response.rating,
        "comment": response.comment,
        "created_at": frames.iso(response.created_at),
    }


async def _existing(session: AsyncSession, conversation_id: int) -> SurveyResponse | None:
    return await session.scalar(
        select(SurveyResponse).where(SurveyResponse.conversation_id == conversation_id)
    )


async def record_rating(
    session: AsyncSession, *, conversation: Conversation, rating: int, comment: str = ""
) -> SurveyResponse:
    """Stores the customer's rating of a closed conversation, once (Conflict on a second one;
    the unique key on conversation_id settles a concurrent double submit the same way)."""
    if not 1 <= rating <= 5:
        raise InvalidInput("rating must be between 1 and 5")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"comment is longer than {MAX_COMMENT_CHARS} characters")
    if conversation.status != ConversationStatus.closed:
        raise Conflict("the conversation is not closed yet", code="not_closed")
    if await _existing(session, conversation.id) is not None:
        raise Conflict("this conversation has already been rated", code="already_rated")
    response = SurveyResponse(
        shop_id=conversation.shop_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        rating=rating,
        comment=comment,
    )
    session.add(response)
    await session.flush()
    await outbox.publish(
        session,
        RatingSaved(
            shop_id=conversation.shop_id,
            actor=outbox.EventActor("customer", conversation.customer_id),
            conversation_id=conversation.id,
            response_id=response.id,
            rating=rating,
        ),
    )
    frame = {"type": "rating.saved", "conversation_id": conversation.id, "rating": rating}
    events.queue_frame(session, [frames.customer_topic(conversation.id)], frame)
    # Every staff member of the shop listens on the queue topic: one frame reaches them all.
    events.queue_frame(
        session, [frames.queue_topic(conversation.shop_id)], {**frame, "comment": comment}
    )
    return response


async def rating_for_conversation(
    session: AsyncSession, *, conversation_id: int
) -> dict[str, Any] | None:
    response = await _existing(session, conversation_id)
    return rating_dict(response) if response else None


async def ratings_for_customer(
    session: AsyncSession, *, shop_id: int, customer_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    result = await session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.shop_id == shop_id, SurveyResponse.customer_id == customer_id)
        .order_by(SurveyResponse.id.desc())
        .limit(limit)
    )
    return [rating_dict(r) for r in result]


async def rating_for_ticket(session: AsyncSession, *, ticket: Any) -> dict[str, Any] | None:
    """The rating of the conversation the ticket came from (None if none or not rated)."""
    conversation_id = getattr(ticket, "conversation_id", None)
    if not conversation_id:
        return None
    return await rating_for_conversation(session, conversation_id=conversation_id)
