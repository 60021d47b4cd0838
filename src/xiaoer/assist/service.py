"""Agent assist operations that write: proposals made from a conversation, plus the conversation
context the other assist modules share (the variables a script answer is filled with, the
emotion shown in the panel).

The guard on a reply (compliance check, supervisor override, script usage events) belongs to
sending a message and lives in `xiaoer.conversations.replies`; its names are re-exported here
for the assist routes.

Every function runs in the caller's transaction and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.bot import service as bot
from xiaoer.commerce import service as commerce
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.conversations.replies import SUPERVISING_ROLES as SUPERVISING_ROLES
from xiaoer.conversations.replies import OverrideRefused as OverrideRefused
from xiaoer.conversations.replies import OverrideThrottled as OverrideThrottled
from xiaoer.conversations.replies import ReplyBlocked as ReplyBlocked
from xiaoer.conversations.replies import ReplyCheck as ReplyCheck
from xiaoer.conversations.replies import Throttle as Throttle
from xiaoer.conversations.replies import check_reply as check_reply
from xiaoer.conversations.replies import is_angry as is_angry
from xiaoer.conversations.replies import latest_customer_message as latest_customer_message
from xiaoer.conversations.replies import lint_role as lint_role
from xiaoer.conversations.replies import may_approve_self as may_approve_self
from xiaoer.conversations.replies import override_meta as override_meta
from xiaoer.conversations.replies import record_inserted as record_inserted
from xiaoer.conversations.replies import record_override as record_override
from xiaoer.conversations.replies import record_sent as record_sent
from xiaoer.conversations.replies import shop_script as shop_script
from xiaoer.conversations.replies import verify_approver as verify_approver
from xiaoer.customers.models import Customer
from xiaoer.errors import Conflict, InvalidInput, NotFound
from xiaoer.knowledge import usage
from xiaoer.knowledge.models import ProposalKind, ProposalStatus, ScriptProposal
from xiaoer.nlp import Emotion
from xiaoer.shops import service as shops

MAX_PROPOSAL_CHARS = 500


# --- conversation context -----------------------------------------------------------------------


def emotion_view(emotion: Emotion) -> dict[str, Any]:
    negative = emotion.polarity == "negative"
    return {
        "polarity": emotion.polarity,
        "label": emotion.label if negative else None,
        "intensity": round(float(emotion.intensity), 3),
        "negative": negative,
        "angry": is_angry(emotion),
    }


async def conversation_values(
    session: AsyncSession, *, conversation: Conversation
) -> dict[str, str]:
    """Values of the answer variables for this conversation: the customer's name and the linked
    order (else the customer's latest order)."""
    customer = await session.get(Customer, conversation.customer_id)
    values = {"customer_name": (customer.name if customer is not None else "") or "亲"}
    order = None
    if conversation.order_id is not None:
        order = await commerce.get_order(
            session, shop_id=conversation.shop_id, order_id=conversation.order_id
        )
    if order is None:
        order = await commerce.latest_order(
            session, shop_id=conversation.shop_id, customer_id=conversation.customer_id
        )
    if order is not None:
        tz = await shops.shop_timezone(session, shop_id=conversation.shop_id)
        values.update(commerce.order_variables(order, tz))
    return values


def fill(template: str, values: dict[str, str]) -> str:
    """Unfilled variables show as 【订单号】 so the agent sees what still needs typing."""
    return bot.render_answer(template, values, placeholder=True)


# --- proposals ----------------------------------------------------------------------------------


async def create_proposal(
    session: AsyncSession,
    *,
    user: User,
    actor: Actor,
    conversation: Conversation,
    message_id: int,
    kind: ProposalKind,
    script_id: int | None = None,
    title: str = "",
    answer: str = "",
) -> ScriptProposal:
    """A customer message proposed as a question variant of a script, or as a new script; the
    supervisors review it. One open proposal per message, kind and script."""
    message = await session.get(Message, message_id)
    if message is None or message.conversation_id != conversation.id:
        raise NotFound("message not found")
    if message.sender_type != SenderType.customer:
        raise InvalidInput("only a customer message can be proposed", code="not_customer_message")
    question = " ".join(message.body.split())[:MAX_PROPOSAL_CHARS]
    if kind == ProposalKind.new_variant:
        if script_id is None:
            raise InvalidInput("choose the script the question belongs to", code="script_required")
        script = await shop_script(session, shop_id=conversation.shop_id, script_id=script_id)
        if question in {q.text for q in script.questions}:
            raise Conflict("the script already has this question", code="already_a_variant")
    else:
        script_id = None
    duplicate = await session.scalar(
        select(ScriptProposal.id).where(
            ScriptProposal.shop_id == conversation.shop_id,
            ScriptProposal.message_id == message.id,
            ScriptProposal.kind == kind,
            ScriptProposal.status == ProposalStatus.open,
            ScriptProposal.script_id.is_(None)
            if script_id is None
            else ScriptProposal.script_id == script_id,
        )
    )
    if duplicate is not None:
        raise Conflict("this message has already been proposed", code="already_proposed")
    proposal = await usage.add_proposal(
        session,
        shop_id=conversation.shop_id,
        kind=kind,
        script_id=script_id,
        question=question,
        title=" ".join(title.split())[:200],
        answer=answer.strip(),
        conversation_id=conversation.id,
        message_id=message.id,
        proposed_by_id=user.id,
    )
    await audit.record(
        session,
        actor=actor,
        action="script.proposed",
        entity_type="script_proposal",
        entity_id=proposal.id,
        after=proposal_public(proposal),
    )
    return proposal


def proposal_public(proposal: ScriptProposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "kind": str(proposal.kind),
        "status": str(proposal.status),
        "script_id": proposal.script_id,
        "question": proposal.question,
        "title": proposal.title,
        "answer": proposal.answer,
        "conversation_id": proposal.conversation_id,
        "message_id": proposal.message_id,
        "proposed_by_id": proposal.proposed_by_id,
    }
