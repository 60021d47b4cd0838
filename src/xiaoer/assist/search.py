"""The workspace's `/` script search: by title, keyword (question variants and trigger keywords)
or the pinyin of the title — initials (查询物流进度 → cxwljd) or full syllables (chaxun…).

The index is built once per shop and served library version (the published scripts the bot
uses), so a keystroke costs a scan of precomputed lowercase strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.assist import service as assist
from xiaoer.bot.engine import BotUnavailable
from xiaoer.conversations.models import Conversation
from xiaoer.knowledge import library as served
from xiaoer.knowledge.library import PublishedScript, answer_channel
from xiaoer.nlp import normalize

MAX_RESULTS = 10
MAX_QUERY = 50
_CACHED_SHOPS = 64


@dataclass(frozen=True)
class Entry:
    script: PublishedScript
    title: str
    initials: str
    pinyin: str
    keywords: tuple[str, ...]
    category: str


def _keep_chars(chunk: str) -> list[str]:
    """Non-Chinese runs: letters and digits one by one, punctuation dropped."""
    return [c for c in chunk.lower() if c.isalnum()]


# pypinyin accepts a callback returning a list (one item per character); its stubs say str.
_keep: Any = _keep_chars


def initials(text: str) -> str:
    """查询物流进度 → cxwljd; letters and digits pass through (7天 → 7t)."""
    from pypinyin import Style, lazy_pinyin  # its dictionaries load in ~0.5 s; searches only

    return "".join(
        p[:1] for p in lazy_pinyin(text, style=Style.FIRST_LETTER, errors=_keep) if p
    ).lower()


def full_pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text, errors=_keep)).lower()


def _entry(script: PublishedScript) -> Entry:
    keywords = list(script.questions) + [str(k) for k in script.triggers.get("keywords") or []]
    return Entry(
        script=script,
        title=normalize(script.title),
        initials=initials(script.title),
        pinyin=full_pinyin(script.title),
        keywords=tuple(dict.fromkeys(normalize(k) for k in keywords if k)),
        category=normalize(script.category or ""),
    )


_indexes: dict[int, tuple[str, list[Entry]]] = {}


def index_for(shop_id: int, version: str, scripts: list[PublishedScript]) -> list[Entry]:
    cached = _indexes.get(shop_id)
    if cached is not None and cached[0] == version:
        return cached[1]
    entries = [_entry(s) for s in sorted(scripts, key=lambda s: (s.category, s.title, s.id))]
    if len(_indexes) >= _CACHED_SHOPS:
        _indexes.clear()
    _indexes[shop_id] = (version, entries)
    return entries


def score(entry: Entry, q: str) -> tuple[int, str] | None:
    """(rank, what matched) of the best way `q` matches; lower rank is better."""
    if entry.title.startswith(q):
        return 0, "title"
    if q.isascii() and entry.initials.startswith(q):
        return 1, "initials"
    if q in entry.title:
        return 2, "title"
    if q.isascii() and q in entry.initials:
        return 3, "initials"
    if q.isascii() and len(q) >= 2 and entry.pinyin.startswith(q):
        return 4, "pinyin"
    if any(q in k for k in entry.keywords):
        return 5, "keyword"
    if q.isascii() and len(q) >= 3 and q in entry.pinyin:
        return 6, "pinyin"
    if q in entry.category:
        return 7, "category"
    return None


def search_entries(entries: list[Entry], query: str, limit: int = MAX_RESULTS) -> list[Entry]:
    q = normalize(query).replace(" ", "")[:MAX_QUERY]
    if not q:
        return entries[:limit]
    hits = []
    for i, e in enumerate(entries):
        found = score(e, q)
        if found is not None:
            hits.append((found[0], i, e))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [e for _, _, e in hits[:limit]]


async def _published(
    session: AsyncSession, *, registry: Any, shop_id: int
) -> tuple[str, list[PublishedScript]]:
    try:
        library = await registry.library(session, shop_id)
        return library.version, list(library.scripts.values())
    except BotUnavailable:  # the matcher failed to train; searching needs only the scripts
        version = await served.library_version(session, shop_id=shop_id)
        return version, await served.list_published(session, shop_id=shop_id)


async def search_scripts(
    session: AsyncSession,
    *,
    registry: Any,
    conversation: Conversation | None,
    shop_id: int,
    query: str,
    limit: int = MAX_RESULTS,
) -> list[dict[str, Any]]:
    """Published scripts matching `query`, in the conversation's channel wording with its
    variables filled (without a conversation: the IM wording, variables as placeholders)."""
    version, scripts = await _published(session, registry=registry, shop_id=shop_id)
    found = search_entries(index_for(shop_id, version, scripts), query, limit)
    channel = answer_channel(conversation.channel if conversation is not None else None)
    values: dict[str, str] = {}
    if conversation is not None and found:
        values = await assist.conversation_values(session, conversation=conversation)
    out = []
    q = normalize(query).replace(" ", "")[:MAX_QUERY]
    for e in found:
        variant, template = e.script.choose(
            channel, conversation.customer_id if conversation is not None else None
        )
        matched = score(e, q) if q else None
        out.append(
            {
                "script_id": e.script.id,
                "title": e.script.title,
                "category": e.script.category,
                "initials": e.initials,
                "matched_on": matched[1] if matched else None,
                "text": assist.fill(template, values),
                "variant": variant,
                "channel": channel,
            }
        )
    return out
