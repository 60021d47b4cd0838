"""One trained script matcher per shop, rebuilt when the shop's published library changes.

`BotRegistry.library(session, shop_id)` compares the cheap `served.library_version` on every
call. Training is CPU work (TF-IDF, SVM and calibration: about 1.5 s for the 72-script demo
library), so it runs in a worker thread; concurrent callers for the same shop share one build,
and the finished library replaces the old one in a single assignment.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xiaoer.knowledge import library as served
from xiaoer.knowledge.library import PublishedScript

if TYPE_CHECKING:
    from xiaoer.nlp.matching import ScriptMatcher

log = structlog.get_logger(__name__)


class BotUnavailable(Exception):
    """Training the shop's matcher failed; the bot hands conversations to people meanwhile."""


@dataclass(frozen=True)
class ShopLibrary:
    version: str
    matcher: ScriptMatcher | None  # None: nothing published, the bot cannot answer
    scripts: dict[int, PublishedScript] = field(default_factory=dict)


def training_questions(script: PublishedScript) -> list[str]:
    """Question variants plus trigger intents and keywords: a shop's intent names (查物流,
    催发货) and keywords (运费险) are themselves what customers type."""
    triggers = script.triggers
    extra = [*(triggers.get("intents") or []), *(triggers.get("keywords") or [])]
    return list(dict.fromkeys([*script.questions, *extra]))


def build_library(version: str, scripts: list[PublishedScript]) -> ShopLibrary:
    """Synchronous: trains the matcher (call it in a thread). Agent-only scripts stay out of
    it: the bot never answers with them, and their emotional wording would only blur the
    matcher's calibration; the assist panel serves them from `scripts`."""
    pairs = [(str(s.id), training_questions(s)) for s in scripts if s.questions and s.bot_enabled]
    matcher = train_matcher(pairs) if pairs else None
    return ShopLibrary(version=version, matcher=matcher, scripts={s.id: s for s in scripts})


# Trained matchers by the content of what they learned, shared by every shop in the process whose
# bot-enabled scripts ask the same questions in the same order (each seeded demo shop, a shop
# that reverts a change): training takes seconds, a hit a copy. Bounded: a matcher holds its index.
TRAINED_CACHE_SIZE = 8
_trained: OrderedDict[str, ScriptMatcher] = OrderedDict()
_trained_lock = threading.Lock()


def train_matcher(pairs: list[tuple[str, list[str]]]) -> ScriptMatcher:
    """A matcher over `(script_id, questions)` pairs. The model depends only on the questions and
    their order (a script's id is just the label of its position), so a cached one is reused
    with this library's ids put on its positions."""
    key = hashlib.sha256(
        json.dumps([questions for _, questions in pairs], ensure_ascii=False).encode()
    ).hexdigest()
    with _trained_lock:
        trained = _trained.get(key)
        if trained is not None:
            _trained.move_to_end(key)
    if trained is None:
        from xiaoer.nlp.matching import ScriptMatcher  # scikit-learn: only once a bot trains

        trained = ScriptMatcher.build([(str(i), qs) for i, (_, qs) in enumerate(pairs)])
        with _trained_lock:
            _trained[key] = trained
            while len(_trained) > TRAINED_CACHE_SIZE:
                _trained.popitem(last=False)
    # Searches only read the trained state, so the copies share it; only the labels differ.
    matcher = copy.copy(trained)
    matcher.script_ids = [script_id for script_id, _ in pairs]
    return matcher


class BotRegistry:
    """Per-process cache of trained libraries (one per shop)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | Any) -> None:
        self.sessions = sessions
        self._libraries: dict[int, ShopLibrary] = {}
        self._builds: dict[tuple[int, str], asyncio.Task[ShopLibrary]] = {}
        # Build order per shop: a slow build of an older version never replaces a newer one.
        self._started = 0
        self._swapped: dict[int, int] = {}

    def cached(self, shop_id: int) -> ShopLibrary | None:
        return self._libraries.get(shop_id)

    async def library(self, session: AsyncSession, shop_id: int) -> ShopLibrary:
        """The shop's library at its current version, training it first when it changed."""
        version = await served.library_version(session, shop_id=shop_id)
        current = self._libraries.get(shop_id)
        if current is not None and current.version == version:
            return current
        key = (shop_id, version)
        task = self._builds.get(key)
        if task is None:
            scripts = await served.list_published(session, shop_id=shop_id)
            self._started += 1
            task = asyncio.create_task(self._build(shop_id, version, scripts, self._started))
            self._builds[key] = task
            task.add_done_callback(lambda _t: self._builds.pop(key, None))
        # shield: a cancelled caller must not cancel the build other callers wait for.
        return await asyncio.shield(task)

    async def _build(
        self,
        shop_id: int,
        version: str,
        scripts: list[PublishedScript],
        sequence: int,
    ) -> ShopLibrary:
        started = time.perf_counter()
        try:
            library = await asyncio.to_thread(build_library, version, scripts)
        except Exception as exc:  # not cached: the next message tries again
            log.exception("bot_library_build_failed", shop_id=shop_id, scripts=len(scripts))
            raise BotUnavailable(str(exc)) from exc
        if sequence > self._swapped.get(shop_id, 0):
            self._libraries[shop_id] = library
            self._swapped[shop_id] = sequence
        log.info(
            "bot_library_built",
            shop_id=shop_id,
            scripts=len(scripts),
            seconds=round(time.perf_counter() - started, 3),
            threshold=getattr(library.matcher, "threshold", None),
        )
        return library

    async def warm(self, shop_id: int) -> ShopLibrary:
        """Train a shop's library ahead of its first message (start-up, CLI)."""
        async with self.sessions() as session:
            return await self.library(session, shop_id)
