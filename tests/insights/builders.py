"""Hand-built rows for the insights tests: customers, conversations, messages, bot decisions,
script events and survey responses with explicit times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from xiaoer.bot.models import BotDecision
from xiaoer.conversations.models import Conversation, ConversationStatus, Message, SenderType
from xiaoer.customers.models import Customer
from xiaoer.knowledge.models import ScriptEvent, ScriptEventKind
from xiaoer.surveys.models import SurveyResponse

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


class Builder:
    def __init__(self, session: Any, shop_id: int) -> None:
        self.session = session
        self.shop_id = shop_id

    async def add(self, row: Any) -> Any:
        self.session.add(row)
        await self.session.flush()
        return row

    async def customer(self, name: str = "顾客") -> Customer:
        return await self.add(Customer(shop_id=self.shop_id, name=name))

    async def conversation(
        self,
        customer: Customer,
        *,
        created: dt.datetime,
        closed: dt.datetime | None = None,
        queued: dt.datetime | None = None,
        status: ConversationStatus | None = None,
    ) -> Conversation:
        if status is None:
            status = ConversationStatus.closed if closed else ConversationStatus.bot
        return await self.add(
            Conversation(
                shop_id=self.shop_id,
                customer_id=customer.id,
                status=status,
                created_at=created,
                closed_at=closed,
                queued_at=queued,
                handoff_reason="low_confidence" if queued else None,
                last_message_at=created,
            )
        )

    async def message(
        self,
        conversation: Conversation,
        body: str,
        *,
        at: dt.datetime,
        sender: SenderType = SenderType.customer,
    ) -> Message:
        return await self.add(
            Message(conversation_id=conversation.id, sender_type=sender, body=body, created_at=at)
        )

    async def decision(
        self,
        message: Message,
        *,
        script_id: int | None = None,
        confidence: float = 0.0,
        handoff_reason: str | None = None,
        reviewed: dt.datetime | None = None,
    ) -> BotDecision:
        return await self.add(
            BotDecision(
                shop_id=self.shop_id,
                conversation_id=message.conversation_id,
                message_id=message.id,
                script_id=script_id,
                confidence=confidence,
                handoff=handoff_reason is not None,
                handoff_reason=handoff_reason,
                created_at=message.created_at,
                reviewed_at=reviewed,
            )
        )

    async def event(
        self,
        script_id: int,
        kind: ScriptEventKind,
        *,
        at: dt.datetime,
        conversation: Conversation | None = None,
        message: Message | None = None,
        variant: str = "A",
        channel: str = "im",
        edited: bool | None = None,
        matched: bool = False,
    ) -> ScriptEvent:
        return await self.add(
            ScriptEvent(
                shop_id=self.shop_id,
                script_id=script_id,
                kind=kind,
                channel=channel,
                variant=variant,
                conversation_id=conversation.id if conversation else None,
                message_id=message.id if message else None,
                edited=edited,
                matched=matched,
                created_at=at,
            )
        )

    async def rating(self, conversation: Conversation, rating: int) -> SurveyResponse:
        return await self.add(
            SurveyResponse(
                shop_id=self.shop_id,
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                rating=rating,
            )
        )
