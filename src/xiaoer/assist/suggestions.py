"""Ranked script suggestions for the agent's latest customer message, and the assist panel.

`bot.service.suggest` gives the best matches (channel wording, A/B variant, variables filled
from the linked order); they are re-ranked by a blend of the match score and the script's past
success with this shop's agents:

    success = ½ · uptake + ½ · clean
    uptake  = (inserted + A·p_uptake) / (suggested + A)    share of suggestions agents used
    clean   = (unedited sends + B·p_clean) / (sends + B)    share of sends not edited
    score   = (1 − W) · match + W · success

The priors p_* are the shop-wide rates, so a new script starts at the shop average (neither
buried nor promoted) and its own record takes over as it is used. Statistics come from one
grouped query over recent `ScriptEvent` rows, cached per shop for `SuccessCache.ttl` seconds:
per message the ranking costs a dictionary lookup.

Each suggestion shown is recorded once per customer message and script as a `suggested` event.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.assist import history as repeat
from xiaoer.assist import service as assist
from xiaoer.bot import service as bot
from xiaoer.bot.engine import BotUnavailable
from xiaoer.conversations.models import Conversation, Message
from xiaoer.knowledge import usage
from xiaoer.knowledge.library import answer_channel
from xiaoer.knowledge.models import ScriptEvent, ScriptEventKind
from xiaoer.nlp import detect_emotion

TOP_K = 3
CANDIDATES = 10
SUCCESS_WEIGHT = 0.3
UPTAKE_PRIOR_WEIGHT = 5.0  # pseudo-suggestions at the shop's rate
CLEAN_PRIOR_WEIGHT = 3.0  # pseudo-sends at the shop's rate
DEFAULT_UPTAKE = 0.3
DEFAULT_CLEAN = 0.6
STATS_WINDOW = dt.timedelta(days=90)
CALMING_CATEGORY = "情绪安抚"
CALMING_LIMIT = 6


@dataclass(frozen=True)
class ScriptStats:
    suggested: int = 0
    inserted: int = 0
    sent: int = 0
    unedited: int = 0


@dataclass(frozen=True)
class ShopStats:
    scripts: dict[int, ScriptStats]
    uptake_prior: float
    clean_prior: float

    def success(self, script_id: int) -> float:
        s = self.scripts.get(script_id, ScriptStats())
        used = max(s.inserted, s.sent)
        shown = max(s.suggested, used)
        uptake = (used + UPTAKE_PRIOR_WEIGHT * self.uptake_prior) / (shown + UPTAKE_PRIOR_WEIGHT)
        clean = (s.unedited + CLEAN_PRIOR_WEIGHT * self.clean_prior) / (s.sent + CLEAN_PRIOR_WEIGHT)
        return 0.5 * uptake + 0.5 * clean


def shop_stats(rows: dict[int, ScriptStats]) -> ShopStats:
    """Priors from the shop's totals, themselves smoothed toward the defaults."""
    shown = sum(max(s.suggested, s.inserted, s.sent) for s in rows.values())
    used = sum(max(s.inserted, s.sent) for s in rows.values())
    sent = sum(s.sent for s in rows.values())
    unedited = sum(s.unedited for s in rows.values())
    return ShopStats(
        scripts=rows,
        uptake_prior=(used + 10 * DEFAULT_UPTAKE) / (shown + 10),
        clean_prior=(unedited + 10 * DEFAULT_CLEAN) / (sent + 10),
    )


async def load_stats(session: AsyncSession, *, shop_id: int) -> ShopStats:
    since = clock.now() - STATS_WINDOW
    rows = await session.execute(
        select(
            ScriptEvent.script_id,
            ScriptEvent.kind,
            func.count(),
            func.sum(case((ScriptEvent.edited.is_(False), 1), else_=0)),
        )
        .where(
            ScriptEvent.shop_id == shop_id,
            ScriptEvent.kind.in_(
                (ScriptEventKind.suggested, ScriptEventKind.inserted, ScriptEventKind.sent)
            ),
            ScriptEvent.created_at >= since,
        )
        .group_by(ScriptEvent.script_id, ScriptEvent.kind)
    )
    counts: dict[int, dict[str, int]] = {}
    for script_id, kind, n, unedited in rows:
        c = counts.setdefault(int(script_id), {})
        c[str(kind)] = int(n)
        if str(kind) == ScriptEventKind.sent:
            c["unedited"] = int(unedited or 0)
    return shop_stats(
        {
            sid: ScriptStats(
                suggested=c.get("suggested", 0),
                inserted=c.get("inserted", 0),
                sent=c.get("sent", 0),
                unedited=c.get("unedited", 0),
            )
            for sid, c in counts.items()
        }
    )


class SuccessCache:
    """Per-process, per-shop statistics, refreshed at most every `ttl` seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._stats: dict[int, tuple[float, ShopStats]] = {}

    async def get(self, session: AsyncSession, shop_id: int) -> ShopStats:
        now = time.monotonic()
        hit = self._stats.get(shop_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        stats = await load_stats(session, shop_id=shop_id)
        self._stats[shop_id] = (now, stats)
        return stats

    def forget(self, shop_id: int) -> None:
        self._stats.pop(shop_id, None)


DEFAULT_CACHE = SuccessCache()


@dataclass(frozen=True)
class Ranked:
    suggestion: bot.Suggestion
    score: float
    success: float

    def public(self) -> dict[str, Any]:
        s = self.suggestion
        return {
            "script_id": s.script_id,
            "title": s.title,
            "text": s.text,
            "score": round(self.score, 4),
            "match": s.score,
            "success": round(self.success, 4),
            "variant": s.variant,
            "channel": s.channel,
            "matched": s.matched,
        }


def rank(suggestions: list[bot.Suggestion], stats: ShopStats, k: int = TOP_K) -> list[Ranked]:
    """Best blended score first; ties keep the matcher's order."""
    ranked = [
        Ranked(
            suggestion=s,
            score=(1 - SUCCESS_WEIGHT) * float(s.score)
            + SUCCESS_WEIGHT * (success := stats.success(s.script_id)),
            success=success,
        )
        for s in suggestions
    ]
    order = sorted(range(len(ranked)), key=lambda i: (-ranked[i].score, i))
    return [ranked[i] for i in order[:k]]


async def _record_suggested(
    session: AsyncSession, *, conversation: Conversation, message: Message, shown: list[Ranked]
) -> None:
    """Once per customer message and script: a refresh shows the same list, not a new one."""
    if not shown:
        return
    already = await usage.scripts_used_for(
        session,
        conversation_id=conversation.id,
        message_id=message.id,
        kind=ScriptEventKind.suggested,
    )
    for r in shown:
        if r.suggestion.script_id in already:
            continue
        await usage.record_script_use(
            session,
            shop_id=conversation.shop_id,
            script_id=r.suggestion.script_id,
            kind=ScriptEventKind.suggested,
            channel=r.suggestion.channel,
            variant=r.suggestion.variant,
            conversation_id=conversation.id,
            message_id=message.id,
            score=float(r.score),
            matched=r.suggestion.matched,
            flush=False,
        )
    # No flush: the caller's commit writes them (one round trip fewer per message).


async def ranked_suggestions(
    session: AsyncSession,
    *,
    registry: Any,
    conversation: Conversation,
    message: Message | None = None,
    cache: SuccessCache | None = None,
    record: bool = True,
    k: int = TOP_K,
) -> list[Ranked]:
    """The top `k` scripts for the conversation's latest customer message (or `message`)."""
    if message is None:
        message = await assist.latest_customer_message(session, conversation_id=conversation.id)
    if message is None:
        return []
    found = await bot.suggest(
        session,
        registry=registry,
        shop_id=conversation.shop_id,
        text=message.body,
        customer_id=conversation.customer_id,
        order_id=conversation.order_id,
        k=k,
        channel=answer_channel(conversation.channel),
        candidates=CANDIDATES,
    )
    stats = await (cache or DEFAULT_CACHE).get(session, conversation.shop_id)
    shown = rank(found, stats, k)
    if record:
        await _record_suggested(session, conversation=conversation, message=message, shown=shown)
    return shown


async def calming_pack(
    session: AsyncSession, *, registry: Any, conversation: Conversation
) -> list[dict[str, Any]]:
    """The shop's published scripts filed under a 情绪安抚 category, in the conversation's
    channel wording, variables filled."""
    try:
        library = await registry.library(session, conversation.shop_id)
    except BotUnavailable:
        return []
    scripts = [s for s in library.scripts.values() if CALMING_CATEGORY in (s.category or "")]
    if not scripts:
        return []
    channel = answer_channel(conversation.channel)
    values = await assist.conversation_values(session, conversation=conversation)
    out = []
    for s in scripts[:CALMING_LIMIT]:
        variant, template = s.choose(channel, conversation.customer_id)
        out.append(
            {
                "script_id": s.id,
                "title": s.title,
                "category": s.category,
                "text": assist.fill(template, values),
                "variant": variant,
                "channel": channel,
            }
        )
    return out


async def panel(
    session: AsyncSession,
    *,
    registry: Any,
    conversation: Conversation,
    cache: SuccessCache | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything the workspace's assist panel shows for the conversation, in one call."""
    message = await assist.latest_customer_message(session, conversation_id=conversation.id)
    emotion = assist.emotion_view(detect_emotion(message.body)) if message is not None else None
    shown = await ranked_suggestions(
        session, registry=registry, conversation=conversation, message=message, cache=cache
    )
    negative = bool(emotion and emotion["negative"])
    return {
        "conversation_id": conversation.id,
        "message_id": message.id if message is not None else None,
        "channel": answer_channel(conversation.channel),
        "emotion": emotion,
        "alert": negative,
        "suggestions": [r.public() for r in shown],
        "calming": (
            await calming_pack(session, registry=registry, conversation=conversation)
            if negative
            else []
        ),
        "history": await repeat.repeat_summary(session, conversation=conversation, now=now),
    }


def success_cache_of(app_state: Any) -> SuccessCache:
    """One per app (kept on `app.state`): the statistics of the scripts' past success, per shop."""
    cache = getattr(app_state, "assist_success", None)
    if cache is None:
        cache = app_state.assist_success = SuccessCache()
    return cache
