"""The answer pipeline: one customer message in, one decision out.

`decide` reads the message (entities, emotion), honours requests for a person and strong anger,
asks the shop's trained matcher for a script, and fills the script's `{variables}` from the
order named in the message (order or tracking number), else the customer's latest order. When
an answer needs an order it cannot find, it asks for the order number. It never writes: callers
store the decision with `record_decision` in their own transaction.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import outbox
from xiaoer.bot.engine import BotRegistry, BotUnavailable
from xiaoer.bot.events import BotAnswered
from xiaoer.bot.models import BotDecision
from xiaoer.commerce import service as commerce
from xiaoer.commerce.models import Order
from xiaoer.customers import service as customers
from xiaoer.customers.models import Customer
from xiaoer.errors import NotFound
from xiaoer.knowledge import usage
from xiaoer.knowledge.library import PublishedScript
from xiaoer.knowledge.models import ScriptEventKind
from xiaoer.knowledge.variables import render_answer as render_answer
from xiaoer.nlp import Emotion, Entity, detect_emotion, extract_entities, normalize
from xiaoer.shops import service as shops

log = structlog.get_logger(__name__)

# Which orders the bot may read for an answer: any of the shop's (staff previews, agents'
# suggestions), only the customer's own (a verified shopper), none (a shopper who has not
# proved who they are: order answers ask them to verify instead).
OrderAccess = Literal["any", "own", "none"]

HandoffReason = Literal[
    "customer_request", "low_confidence", "negative_emotion", "unanswered_turns"
]

DEFAULT_UNANSWERED_TURNS = 2
# Anger at or above this intensity goes to a person; anxiety ("快点发货！！") and disappointment
# ("质量太差了") are what the scripts are written for, so they stay with the bot.
ANGER_HANDOFF_INTENSITY = 0.7

NOT_UNDERSTOOD = "没太明白您的意思，您可以换个说法，或者输入『人工』联系人工客服~"
ASK_ORDER_NO = "亲，麻烦您提供一下订单号（以 XE 开头的 16 位编号），我马上帮您查询~"
ORDER_NOT_FOUND = (
    "亲，没有查到订单 {number}，麻烦您核对一下订单号（以 XE 开头的 16 位编号）再发给我~"
)
ASK_VERIFY = (
    "亲，为了保护您的订单和个人信息，查询前请先点击上方『验证身份』完成验证"
    "（订单号 + 收件手机号后四位，或验证码），验证后我马上帮您查询~"
)
HANDOFF_TEXT = {
    "customer_request": "好的，正在为您转接人工客服，请稍候~",
    "negative_emotion": "非常抱歉给您带来不好的体验，正在为您转接人工客服，请稍候~",
    "unanswered_turns": "抱歉没能帮到您，正在为您转接人工客服，请稍候~",
    "low_confidence": "这个问题需要人工客服为您处理，正在为您转接，请稍候~",
}

# Asking for a person. Not "客服" alone: "客服几点上班" is a question the scripts answer.
_HUMAN_REQUEST = re.compile(
    r"人工|真人|活人"
    r"|(找|要|叫|转|换|接|联系)(个|一个|一下)?(客服|人来|小姐姐|小哥哥)"
    r"|^客服[呢呀啊吗在不么]*$|客服(呢|在哪|出来|在不在)"
    r"|(不要|别|不想|不用)(跟|和|再|用|让)?(机器人|自动回复)|是不是机器人|是机器人[吗吧么]"
    r"|\b(human|agent|operator|representative|real person|live person)\b"
    r"|talk to (a |some)(one|body|person)|speak to (a |some)(one|body|person)"
)
_VARIABLE = re.compile(r"\{([a-z_]+)\}")


@dataclass
class BotResult:
    """The bot's decision for one message. `answer` is None when the conversation goes to a
    person without a bot reply; `needs_order` when the answer asks for an order number."""

    answer: str | None
    script_id: int | None
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    emotion: dict[str, Any] = field(default_factory=dict)
    handoff: bool = False
    handoff_reason: HandoffReason | None = None
    needs_order: bool = False
    needs_verification: bool = False
    script_title: str | None = None
    order_id: int | None = None
    channel: str = "im"
    variant: str | None = None  # the answer variant served (A/B tests)

    def public(self) -> dict[str, Any]:
        """The decision as `POST /api/v1/bot/preview` and `xiaoer bot ask` print it."""
        data = asdict(self)
        return {
            k: data[k]
            for k in (
                "answer",
                "script_id",
                "intent",
                "confidence",
                "entities",
                "emotion",
                "handoff",
                "handoff_reason",
            )
        }


@dataclass(frozen=True)
class Suggestion:
    script_id: int
    title: str
    text: str
    score: float
    variant: str = "A"
    channel: str = "im"
    confidence: float = 0.0
    matched: bool = False  # cleared the bot's answer threshold


def wants_person(text: str) -> bool:
    return bool(_HUMAN_REQUEST.search(normalize(text)))


def is_angry(emotion: Emotion) -> bool:
    return (
        emotion.polarity == "negative"
        and emotion.label == "anger"
        and emotion.intensity >= ANGER_HANDOFF_INTENSITY
    )


# Numbers say which order, not what the question is; as n-grams they only add noise.
_MASKED_ENTITY_TYPES = {"order_no", "tracking_no", "phone"}


def matching_text(text: str, entities: list[Entity]) -> str:
    """`text` without order/tracking/phone numbers, for the script matcher."""
    out = text
    for e in sorted(entities, key=lambda e: e.start, reverse=True):
        if e.type in _MASKED_ENTITY_TYPES and text[e.start : e.end] == e.text:
            out = out[: e.start] + " " + out[e.end :]
    return out if out.strip() else text


def _entity_dict(e: Entity) -> dict[str, Any]:
    return {
        "type": e.type,
        "text": e.text,
        "value": e.value,
        "start": e.start,
        "end": e.end,
        "meta": dict(e.meta or {}),
    }


def _emotion_dict(e: Emotion) -> dict[str, Any]:
    return {"polarity": e.polarity, "label": e.label, "intensity": round(float(e.intensity), 3)}


@dataclass
class _OrderLookup:
    order: Order | None
    named: str | None  # an order/tracking number the message gave that matched nothing


async def _find_order(
    session: AsyncSession,
    *,
    shop_id: int,
    entities: list[Entity],
    customer_id: int | None,
    own_only: bool = False,
    focus_order_id: int | None = None,
) -> _OrderLookup:
    """With `own_only`, another customer's order named in the message is answered exactly
    like a number that does not exist."""
    named = None

    def mine(order: Order | None) -> bool:
        return order is not None and (not own_only or order.customer_id == customer_id)

    for entity in entities:
        if entity.type == "order_no":
            order = await commerce.find_order(session, shop_id=shop_id, order_no=str(entity.value))
            if mine(order):
                return _OrderLookup(order, None)
            named = named or entity.text
    for entity in entities:
        if entity.type == "tracking_no":
            shipment = await commerce.find_shipment_by_tracking(
                session, shop_id=shop_id, tracking_no=str(entity.value)
            )
            if shipment is not None and mine(shipment.order):
                return _OrderLookup(shipment.order, None)
            named = named or entity.text
    if named is None and customer_id is not None:
        if focus_order_id is not None:
            focus = await commerce.get_order(session, shop_id=shop_id, order_id=focus_order_id)
            if focus is not None and focus.customer_id == customer_id:
                return _OrderLookup(focus, None)
        order = await commerce.latest_order(session, shop_id=shop_id, customer_id=customer_id)
        return _OrderLookup(order, None)
    return _OrderLookup(None, named)


async def _customer(
    session: AsyncSession, *, shop_id: int, customer_id: int | None
) -> Customer | None:
    if customer_id is None:
        return None
    try:
        return await customers.get_customer(session, shop_id=shop_id, customer_id=customer_id)
    except NotFound:
        return None


def template_variables(template: str) -> list[str]:
    return list(dict.fromkeys(_VARIABLE.findall(template)))


async def _fill(
    session: AsyncSession,
    *,
    shop_id: int,
    template: str,
    entities: list[Entity],
    customer: Customer | None,
    order: Order | None = None,
    order_access: OrderAccess = "any",
    focus_order_id: int | None = None,
) -> tuple[dict[str, str], bool, str | None, int | None]:
    """(values, order_missing, unmatched number, order id) for the template's variables."""
    if order_access == "none":
        # Not even the name of an unverified visitor's own record is worth showing.
        values = {"customer_name": "亲"}
    else:
        values = {"customer_name": (customer.name if customer is not None else "") or "亲"}
    if not any(v in commerce.ORDER_VARIABLES for v in template_variables(template)):
        return values, False, None, None
    if order_access == "none":
        raise _VerificationNeeded
    named = None
    if order is None:
        lookup = await _find_order(
            session,
            shop_id=shop_id,
            entities=entities,
            customer_id=customer.id if customer is not None else None,
            own_only=order_access == "own",
            focus_order_id=focus_order_id,
        )
        order, named = lookup.order, lookup.named
    if order is None:
        return values, True, named, None
    tz = await _shop_timezone(session, shop_id)
    values.update(commerce.order_variables(order, tz))
    return values, False, None, order.id


class _VerificationNeeded(Exception):
    pass


def _allowed(
    script: PublishedScript, *, channel: str, customer: Customer | None, emotion: Emotion
) -> bool:
    tags = frozenset(str(t) for t in (customer.tags if customer is not None else []) or [])
    label = emotion.label if emotion.polarity == "negative" else emotion.polarity
    return script.allows(channel=channel, customer_tags=tags, emotion=label)


async def _shop_timezone(session: AsyncSession, shop_id: int) -> str:
    return await shops.shop_timezone(session, shop_id=shop_id)


async def decide(
    session: AsyncSession,
    *,
    registry: BotRegistry,
    shop_id: int,
    text: str,
    customer_id: int | None = None,
    unanswered_turns: int = 0,
    max_unanswered_turns: int = DEFAULT_UNANSWERED_TURNS,
    channel: str = "im",
    order_access: OrderAccess = "any",
    focus_order_id: int | None = None,
) -> BotResult:
    """The bot's decision for `text`; reads only (orders, the customer, the script library).
    Scripts whose trigger conditions exclude this customer, channel or emotion are skipped.
    `order_access` says whose orders may fill an answer (see `OrderAccess`); an order the message
    does not name defaults to `focus_order_id` (the conversation's order, e.g. the one the
    shopper verified with) when it is the customer's, else to their latest order."""
    entities = extract_entities(text)
    emotion = detect_emotion(text)
    result = BotResult(
        answer=None,
        script_id=None,
        intent=None,
        confidence=0.0,
        entities=[_entity_dict(e) for e in entities],
        emotion=_emotion_dict(emotion),
        channel=channel,
    )
    if wants_person(text):
        return _handoff(result, "customer_request", intent="转人工", confidence=1.0)
    if is_angry(emotion):
        return _handoff(result, "negative_emotion", intent="投诉/情绪")

    try:
        library = await registry.library(session, shop_id)
        matcher = library.matcher
        found = matcher.search(matching_text(text, entities), k=5) if matcher else []
    except (BotUnavailable, ValueError, IndexError, TypeError):
        # A broken model must not break the chat: a person takes over.
        log.exception("bot_matching_failed", shop_id=shop_id)
        return _handoff(result, "low_confidence")
    if matcher is None:
        return _handoff(result, "low_confidence")
    customer = await _customer(session, shop_id=shop_id, customer_id=customer_id)
    best = [
        m
        for m in found
        if (s := library.scripts.get(int(m.script_id))) is not None
        and _allowed(s, channel=channel, customer=customer, emotion=emotion)
    ][:1]
    if best:
        result.confidence = round(best[0].confidence, 4)
    if not best or best[0].confidence < matcher.threshold:
        if unanswered_turns + 1 >= max_unanswered_turns:
            return _handoff(result, "unanswered_turns")
        result.answer = NOT_UNDERSTOOD
        return result

    script = library.scripts[int(best[0].script_id)]
    result.script_id = script.id
    result.script_title = script.title
    result.intent = script.category or script.title
    variant, template = script.choose(channel, customer_id)
    result.variant = variant
    try:
        values, order_missing, named, order_id = await _fill(
            session,
            shop_id=shop_id,
            template=template,
            entities=entities,
            customer=customer,
            order_access=order_access,
            focus_order_id=focus_order_id,
        )
    except _VerificationNeeded:
        result.needs_order = True
        result.needs_verification = True
        result.answer = ASK_VERIFY
        return result
    result.order_id = order_id
    if order_missing:
        result.needs_order = True
        result.answer = ORDER_NOT_FOUND.format(number=named) if named else ASK_ORDER_NO
        return result
    result.answer = render_answer(template, values)
    return result


def _handoff(
    result: BotResult, reason: HandoffReason, *, intent: str | None = None, confidence: float = 0.0
) -> BotResult:
    result.handoff = True
    result.handoff_reason = reason
    result.answer = HANDOFF_TEXT[reason]
    if intent is not None:
        result.intent = intent
    if confidence:
        result.confidence = confidence
    return result


async def preview(
    session: AsyncSession,
    *,
    registry: BotRegistry,
    shop_id: int,
    text: str,
    customer_id: int | None = None,
) -> BotResult:
    """What the bot would answer to `text` as a first message, without a conversation."""
    return await decide(
        session,
        registry=registry,
        shop_id=shop_id,
        text=text,
        customer_id=customer_id,
        unanswered_turns=0,
    )


async def record_decision(
    session: AsyncSession,
    *,
    shop_id: int,
    conversation_id: int,
    message_id: int,
    result: BotResult | None = None,
    decision: BotResult | None = None,
) -> BotDecision:
    """Stores the decision for a stored customer message (`decision` is an alias of `result`)."""
    chosen = result or decision
    if chosen is None:
        raise TypeError("record_decision needs the decision (result=...)")
    row = BotDecision(
        shop_id=shop_id,
        conversation_id=conversation_id,
        message_id=message_id,
        script_id=chosen.script_id,
        intent=chosen.intent,
        confidence=float(chosen.confidence),
        entities=list(chosen.entities),
        emotion=dict(chosen.emotion),
        answer=chosen.answer,
        handoff=chosen.handoff,
        handoff_reason=chosen.handoff_reason,
    )
    session.add(row)
    if chosen.script_id is not None and not chosen.needs_order and not chosen.handoff:
        await usage.record_script_use(
            session,
            shop_id=shop_id,
            script_id=chosen.script_id,
            kind=ScriptEventKind.bot_answered,
            channel=chosen.channel,
            variant=chosen.variant or "A",
            conversation_id=conversation_id,
            message_id=message_id,
            score=float(chosen.confidence),
            matched=True,
            flush=False,
        )
    await session.flush()
    await outbox.publish(
        session,
        BotAnswered(
            shop_id=shop_id,
            actor=outbox.BOT,
            conversation_id=conversation_id,
            message_id=message_id,
            decision_id=row.id,
            script_id=chosen.script_id,
            handoff=bool(chosen.handoff),
            handoff_reason=str(chosen.handoff_reason) if chosen.handoff_reason else None,
        ),
    )
    return row


async def suggest(
    session: AsyncSession,
    *,
    registry: BotRegistry,
    shop_id: int,
    text: str,
    customer_id: int | None = None,
    order_id: int | None = None,
    k: int = 3,
    channel: str = "im",
    candidates: int | None = None,
) -> list[Suggestion]:
    """The `k` best scripts for an agent's reply box, best match first, in the channel's
    wording (and the customer's A/B variant), variables filled from the given order (else the
    order named in `text`, else the customer's latest); what cannot be filled shows as
    【订单号】-style placeholders. `candidates` > k asks the matcher for more, for re-ranking."""
    try:
        library = await registry.library(session, shop_id)
    except BotUnavailable:
        return []
    if library.matcher is None or not text.strip():
        return []
    entities = extract_entities(text)
    emotion = detect_emotion(text)
    customer = await _customer(session, shop_id=shop_id, customer_id=customer_id)
    order = None
    if order_id is not None:
        order = await commerce.get_order(session, shop_id=shop_id, order_id=order_id)
    if order is None:  # resolve once for all suggestions
        order = (
            await _find_order(session, shop_id=shop_id, entities=entities, customer_id=customer_id)
        ).order
    # One set of values for every candidate: no database work per suggestion.
    values = {"customer_name": (customer.name if customer is not None else "") or "亲"}
    if order is not None:
        values.update(commerce.order_variables(order, await _shop_timezone(session, shop_id)))
    out: list[Suggestion] = []
    wanted = max(k, candidates or k)
    for match in library.matcher.search(matching_text(text, entities), k=wanted + 2):
        script = library.scripts.get(int(match.script_id))
        if script is None or not _allowed(
            script, channel=channel, customer=customer, emotion=emotion
        ):
            continue
        variant, template = script.choose(channel, customer_id)
        out.append(
            Suggestion(
                script_id=script.id,
                title=script.title,
                text=render_answer(template, values, placeholder=True),
                score=round(float(match.score), 4),
                variant=variant,
                channel=channel,
                confidence=round(float(match.confidence), 4),
                matched=match.confidence >= library.matcher.threshold,
            )
        )
        if len(out) >= wanted:
            break
    return out
