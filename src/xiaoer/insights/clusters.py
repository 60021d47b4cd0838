"""Unanswered questions: what customers asked that no published script answered, grouped.

A question is unanswered when the bot stored a decision for it in the period without a script,
or with a confidence below the shop's current answer threshold, unless the customer simply
asked for a person (`customer_request`) or a supervisor already dealt with it (`reviewed_at`).

Grouping: identical questions (after normalisation, with order/tracking/phone numbers and
filler words removed) are counted once, then a greedy average-link pass over TF-IDF vectors of
character 1–3-grams and words puts each question, most frequent first, into the most similar
existing group when the mean cosine similarity reaches `SIMILARITY`, else starts a new group.

Each group can be attached to an existing script as question variants (a draft; "attach and
publish" publishes it), turned into a new draft script, or dismissed; each marks its decisions
reviewed. Every action is audited.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, jobs
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.bot.engine import BotRegistry, BotUnavailable
from xiaoer.bot.models import BotDecision
from xiaoer.bot.service import matching_text
from xiaoer.conversations.models import Message
from xiaoer.errors import Conflict, InvalidInput, NotFound
from xiaoer.insights.models import QuestionClusterSnapshot
from xiaoer.insights.period import Period
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.models import Script
from xiaoer.nlp import extract_entities, normalize, tokenize

SIMILARITY = 0.3  # mean cosine; precision first (a group can be split by ticking)
MAX_ROWS = 5000  # most recent unanswered questions considered per period
MAX_DISTINCT = 1500  # distinct questions clustered (the most frequent)
MAX_SELECTED = 2000
SAMPLES = 5
SUGGEST_TEXTS = 10  # wordings per group asked to the matcher for a suggestion

# Politeness, question scaffolding and sentence-final particles say nothing about what is asked
# (with few questions they would dominate the similarity: "可以打折吗" vs "这个可以退吗").
_FILLERS = re.compile(
    r"请问一下|请问|问一下|问下|想问|你好|您好|在吗|在不在|亲亲|亲|哈哈|谢谢|麻烦|客服"
    r"|我想|我要|这个|那个|一下|可不可以|可以|能不能|能否|是不是|有没有|怎么样|怎么|怎样|如何|的"
    r"|[吗呢啊呀吧哈哦噢嘛啦了呐]+(?=[^\w]|$)"
)
_NUMBERISH = re.compile(r"[a-z]*\d[a-z0-9\-]*")
_NOT_WORD = re.compile(r"[^\w\u3400-\u9fff]+")


def question_text(body: str) -> str:
    """A customer message as a question variant: order, tracking and phone numbers removed,
    whitespace collapsed, at most `knowledge.service.MAX_QUESTION` characters."""
    masked = matching_text(body, extract_entities(body))
    return " ".join(masked.split())[: knowledge.MAX_QUESTION]


def cluster_key(text: str) -> str:
    """What is compared: normalised, without numbers, fillers and punctuation."""
    out = _NUMBERISH.sub(" ", normalize(text))
    out = _FILLERS.sub(" ", out)
    out = _NOT_WORD.sub(" ", out)
    return " ".join(out.split())


def _analyzer(text: str) -> list[str]:
    compact = text.replace(" ", "")
    grams = [compact[i : i + n] for n in (1, 2, 3) for i in range(len(compact) - n + 1)]
    return grams + ["w:" + w for w in tokenize(text) if len(w) > 1]


def group_texts(texts: Sequence[str], weights: Sequence[int] | None = None) -> list[list[int]]:
    """Indices of `texts` grouped by similarity; `texts` should come most frequent first, as
    the first member of each group is its representative."""
    if not texts:
        return []
    # Imported here: scikit-learn costs seconds, and the insights pages load without it.
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    w = np.asarray(weights if weights is not None else [1] * len(texts), dtype=np.float64)
    usable = [i for i, t in enumerate(texts) if t.strip()]
    groups: list[list[int]] = [[i] for i, t in enumerate(texts) if not t.strip()]
    if not usable:
        return groups
    vec = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True)
    matrix = vec.fit_transform([texts[i] for i in usable])
    sims = (matrix @ matrix.T).toarray()
    owner = np.full(len(usable), -1, dtype=np.int64)
    members: list[list[int]] = []
    mass: list[float] = []
    uw = w[usable]
    for i in range(len(usable)):
        if members:
            k = len(members)
            totals = np.bincount(owner[:i], weights=sims[i, :i] * uw[:i], minlength=k)
            mean = totals / np.asarray(mass)
            best = int(np.argmax(mean))
            if mean[best] >= SIMILARITY:
                owner[i] = best
                members[best].append(i)
                mass[best] += float(uw[i])
                continue
        owner[i] = len(members)
        members.append([i])
        mass.append(float(uw[i]))
    return [[usable[j] for j in m] for m in members] + groups


@dataclass
class Question:
    decision_id: int
    message_id: int
    conversation_id: int
    text: str
    at: dt.datetime
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "text": self.text,
            "at": self.at,
            "confidence": round(self.confidence, 4),
        }


@dataclass
class Cluster:
    representative: str
    questions: list[Question]
    # distinct texts with their counts, most frequent first
    texts: list[tuple[str, int]] = field(default_factory=list)
    suggested_script_id: int | None = None
    suggested_title: str | None = None
    suggested_confidence: float | None = None

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def decision_ids(self) -> list[int]:
        return [q.decision_id for q in self.questions]

    def ids_for(self, text: str) -> list[int]:
        """The decision ids of the questions worded `text`."""
        return [q.decision_id for q in self.questions if q.text == text]

    @property
    def samples(self) -> list[Question]:
        seen: set[str] = set()
        out = []
        for q in self.questions:
            if q.text not in seen:
                seen.add(q.text)
                out.append(q)
            if len(out) >= SAMPLES:
                break
        return out

    def as_dict(self, *, all_questions: bool = False) -> dict[str, Any]:
        return {
            "representative": self.representative,
            "count": self.count,
            "distinct": len(self.texts),
            "texts": [{"text": t, "count": n} for t, n in self.texts],
            "samples": [q.as_dict() for q in self.samples],
            "decision_ids": self.decision_ids,
            "questions": [q.as_dict() for q in self.questions] if all_questions else None,
            "suggested_script": (
                {
                    "id": self.suggested_script_id,
                    "title": self.suggested_title,
                    "confidence": self.suggested_confidence,
                }
                if self.suggested_script_id is not None
                else None
            ),
        }


async def _library(session: AsyncSession, registry: BotRegistry | None, shop_id: int) -> Any:
    if registry is None:
        return None
    try:
        library = await registry.library(session, shop_id)
    except BotUnavailable:
        return None
    return library if library.matcher is not None else None


async def unanswered_questions(
    session: AsyncSession,
    *,
    shop_id: int,
    period: Period,
    threshold: float | None = None,
    limit: int = MAX_ROWS,
) -> list[Question]:
    """The period's unanswered, unreviewed questions, newest first."""
    unmatched: Any = BotDecision.script_id.is_(None)
    if threshold is not None:
        unmatched = or_(unmatched, BotDecision.confidence < threshold)
    rows = await session.execute(
        select(
            BotDecision.id,
            BotDecision.message_id,
            BotDecision.conversation_id,
            Message.body,
            BotDecision.created_at,
            BotDecision.confidence,
        )
        .join(Message, Message.id == BotDecision.message_id)
        .where(
            BotDecision.shop_id == shop_id,
            BotDecision.created_at >= period.start,
            BotDecision.created_at < period.end,
            BotDecision.reviewed_at.is_(None),
            or_(
                BotDecision.handoff_reason.is_(None),
                BotDecision.handoff_reason != "customer_request",
            ),
            unmatched,
        )
        .order_by(BotDecision.id.desc())
        .limit(limit)
    )
    return [
        Question(did, mid, cid, question_text(body), at, float(conf or 0.0))
        for did, mid, cid, body, at, conf in rows
    ]


def cluster_questions(questions: Sequence[Question]) -> list[Cluster]:
    """Groups, largest first (ties: most recent first)."""
    by_key: dict[str, list[Question]] = {}
    for q in questions:
        by_key.setdefault(cluster_key(q.text) or q.text, []).append(q)
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), -by_key[k][0].decision_id))
    clustered, rest = keys[:MAX_DISTINCT], keys[MAX_DISTINCT:]
    groups = group_texts(clustered, [len(by_key[k]) for k in clustered])
    groups += [[len(clustered) + i] for i in range(len(rest))]
    ordered = clustered + rest
    out = []
    for group in groups:
        texts: dict[str, int] = {}
        members: list[Question] = []
        for index in group:
            for q in by_key[ordered[index]]:
                members.append(q)
                texts[q.text] = texts.get(q.text, 0) + 1
        members.sort(key=lambda q: -q.decision_id)
        ranked = sorted(texts.items(), key=lambda kv: -kv[1])
        representative = by_key[ordered[group[0]]][0].text
        out.append(Cluster(representative=representative, questions=members, texts=ranked))
    out.sort(key=lambda c: (-c.count, -c.questions[0].decision_id))
    return out


def _suggest(library: Any, clusters: list[Cluster]) -> None:
    """The closest existing script of each group: the matcher's top 3 for each of the group's
    most frequent wordings, scores summed (weighted by how often each wording came), so one
    odd wording does not decide. Its confidence is the best top-1 confidence it got."""
    asks: list[tuple[int, str, int]] = [
        (i, text, n) for i, c in enumerate(clusters) for text, n in c.texts[:SUGGEST_TEXTS]
    ]
    found = library.matcher.search_many([matching_text(t, []) for _, t, _ in asks], k=3)
    votes: list[dict[str, float]] = [{} for _ in clusters]
    best_conf: list[dict[str, float]] = [{} for _ in clusters]
    for (i, _, n), matches in zip(asks, found, strict=True):
        for rank, m in enumerate(matches):
            votes[i][m.script_id] = votes[i].get(m.script_id, 0.0) + float(m.score) * n
            if rank == 0:
                best_conf[i][m.script_id] = max(best_conf[i].get(m.script_id, 0.0), m.confidence)
    for c, tally, conf in zip(clusters, votes, best_conf, strict=True):
        for script_id, _ in sorted(tally.items(), key=lambda kv: -kv[1]):
            script = library.scripts.get(int(script_id))
            if script is not None:
                c.suggested_script_id = script.id
                c.suggested_title = script.title
                c.suggested_confidence = round(float(conf.get(script_id, 0.0)), 4)
                break


INLINE_MAX = 300  # distinct questions grouped inside the request; more go to the job
SNAPSHOT_FRESH = dt.timedelta(minutes=10)
CLUSTER_JOB = "insights.cluster_questions"


@dataclass
class ClusterReport:
    clusters: list[Cluster]
    pending: bool = False  # the grouping is being computed (a job is queued)
    computed_at: dt.datetime | None = None  # None: grouped just now, in the request


def distinct_count(questions: Sequence[Question]) -> int:
    return len({cluster_key(q.text) or q.text for q in questions})


async def store_snapshot(
    session: AsyncSession, *, shop_id: int, period: Period, threshold: float | None
) -> QuestionClusterSnapshot:
    """Group the period's unanswered questions and keep the grouping (the job's work)."""
    questions = await unanswered_questions(
        session, shop_id=shop_id, period=period, threshold=threshold
    )
    groups = cluster_questions(questions)
    snapshot = await _snapshot(session, shop_id, period)
    if snapshot is None:
        snapshot = QuestionClusterSnapshot(
            shop_id=shop_id, first_day=period.first, last_day=period.last
        )
        session.add(snapshot)
    snapshot.threshold = threshold
    snapshot.newest_decision_id = max((q.decision_id for q in questions), default=0)
    snapshot.questions = len(questions)
    snapshot.groups = [c.decision_ids for c in groups]
    snapshot.computed_at = clock.now()
    await session.flush()
    return snapshot


async def _snapshot(
    session: AsyncSession, shop_id: int, period: Period
) -> QuestionClusterSnapshot | None:
    found: QuestionClusterSnapshot | None = await session.scalar(
        select(QuestionClusterSnapshot).where(
            QuestionClusterSnapshot.shop_id == shop_id,
            QuestionClusterSnapshot.first_day == period.first,
            QuestionClusterSnapshot.last_day == period.last,
        )
    )
    return found


def _from_snapshot(snapshot: QuestionClusterSnapshot, questions: list[Question]) -> list[Cluster]:
    """The stored grouping applied to today's questions: reviewed ones drop out, questions that
    arrived since are grouped by their exact key until the next run."""
    by_id = {q.decision_id: q for q in questions}
    placed: set[int] = set()
    out: list[Cluster] = []
    for ids in snapshot.groups:
        members = [by_id[i] for i in ids if i in by_id]
        if not members:
            continue
        placed.update(q.decision_id for q in members)
        out.append(_cluster_of(members))
    fresh: dict[str, list[Question]] = {}
    for q in questions:
        if q.decision_id not in placed:
            fresh.setdefault(cluster_key(q.text) or q.text, []).append(q)
    out += [_cluster_of(members) for members in fresh.values()]
    out.sort(key=lambda c: (-c.count, -c.questions[0].decision_id))
    return out


def _cluster_of(members: list[Question]) -> Cluster:
    members = sorted(members, key=lambda q: -q.decision_id)
    texts: dict[str, int] = {}
    for q in members:
        texts[q.text] = texts.get(q.text, 0) + 1
    ranked = sorted(texts.items(), key=lambda kv: -kv[1])
    return Cluster(representative=ranked[0][0], questions=members, texts=ranked)


async def _request_grouping(
    session: AsyncSession, *, shop_id: int, period: Period, threshold: float | None, newest: int
) -> None:
    await jobs.enqueue(
        session,
        CLUSTER_JOB,
        dedupe_key=f"{shop_id}:{period.first}:{period.last}:{threshold}:{newest}",
        shop_id=shop_id,
        first=period.first.isoformat(),
        last=period.last.isoformat(),
        tz=period.tz,
        threshold=threshold,
    )


async def unanswered_report(
    session: AsyncSession,
    *,
    shop_id: int,
    period: Period,
    registry: BotRegistry | None = None,
    limit: int | None = None,
) -> ClusterReport:
    """The period's unanswered question groups, each with the existing script the shop's
    matcher finds closest to its representative question (a suggestion, even below the
    threshold). Up to INLINE_MAX distinct questions are grouped right here; beyond that the
    grouping is a job's (`insights.cluster_questions`) and the report is `pending` until its
    first result exists. A stale result is shown while a new one is computed."""
    library = await _library(session, registry, shop_id)
    threshold = float(library.matcher.threshold) if library is not None else None
    questions = await unanswered_questions(
        session, shop_id=shop_id, period=period, threshold=threshold
    )
    report = ClusterReport(clusters=[])
    if distinct_count(questions) <= INLINE_MAX:
        report.clusters = cluster_questions(questions)
    else:
        snapshot = await _snapshot(session, shop_id, period)
        newest = max(q.decision_id for q in questions)
        stale = (
            snapshot is None
            or snapshot.threshold != threshold
            or (
                snapshot.newest_decision_id < newest
                and clock.now() - snapshot.computed_at >= SNAPSHOT_FRESH
            )
        )
        if stale:
            await _request_grouping(
                session, shop_id=shop_id, period=period, threshold=threshold, newest=newest
            )
        if snapshot is None or snapshot.threshold != threshold:
            report.pending = True
            return report
        report.clusters = _from_snapshot(snapshot, questions)
        report.computed_at = snapshot.computed_at
    if limit is not None:
        report.clusters = report.clusters[:limit]
    if library is not None and report.clusters:
        _suggest(library, report.clusters)
    return report


async def unanswered_clusters(
    session: AsyncSession,
    *,
    shop_id: int,
    period: Period,
    registry: BotRegistry | None = None,
    limit: int | None = None,
) -> list[Cluster]:
    """`unanswered_report`'s groups (empty while they are being computed)."""
    report = await unanswered_report(
        session, shop_id=shop_id, period=period, registry=registry, limit=limit
    )
    return report.clusters


# ---- actions -----------------------------------------------------------------------------------


def clean_ids(raw: Sequence[Any]) -> list[int]:
    ids: dict[int, None] = {}
    for value in raw:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidInput("decision ids must be numbers", code="invalid_ids") from None
        if number < 1:
            raise InvalidInput("decision ids must be positive", code="invalid_ids")
        ids.setdefault(number, None)
    if not ids:
        raise InvalidInput("select at least one question", code="nothing_selected")
    if len(ids) > MAX_SELECTED:
        raise InvalidInput(f"at most {MAX_SELECTED} questions at once", code="too_many")
    return list(ids)


async def _pending(
    session: AsyncSession, *, shop_id: int, decision_ids: Sequence[Any]
) -> list[tuple[BotDecision, str]]:
    """The selected decisions not yet reviewed, with their message text; any id that is not
    this shop's is a 404, and a selection already dealt with entirely is a 409."""
    ids = clean_ids(decision_ids)
    rows = (
        await session.execute(
            select(BotDecision, Message.body)
            .join(Message, Message.id == BotDecision.message_id)
            .where(BotDecision.id.in_(ids), BotDecision.shop_id == shop_id)
            .order_by(BotDecision.id)
        )
    ).all()
    if len(rows) != len(ids):
        raise NotFound("question not found")
    pending = [(d, body) for d, body in rows if d.reviewed_at is None]
    if not pending:
        raise Conflict("these questions were already dealt with", code="already_reviewed")
    return pending


async def _mark_reviewed(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    action: str,
    pending: list[tuple[BotDecision, str]],
    extra: dict[str, Any],
) -> None:
    now = clock.now()
    for decision, _ in pending:
        decision.reviewed_at = now
    await session.flush()
    ids = [d.id for d, _ in pending]
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="bot_decision",
        entity_id=ids[0],
        before={"decision_ids": ids, "reviewed_at": None},
        after={"decision_ids": ids, "reviewed_at": now.isoformat(), **extra},
        shop_id=shop_id,
    )


def _texts(pending: list[tuple[BotDecision, str]]) -> list[str]:
    texts: dict[str, None] = {}
    for _, body in pending:
        text = question_text(body)
        if text:
            texts.setdefault(text, None)
    return list(texts)


async def attach_to_script(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    decision_ids: Sequence[Any],
    script: Script,
    publish: bool = False,
) -> list[str]:
    """Adds the selected questions as variants of `script` (a new draft of it; published at
    once with `publish`). Returns the variants actually added."""
    if script.shop_id != shop_id:
        raise NotFound("script not found")
    pending = await _pending(session, shop_id=shop_id, decision_ids=decision_ids)
    existing = [q.text for q in script.questions]
    added = [t for t in _texts(pending) if t not in existing]
    if added:
        await knowledge.update_script(
            session, script=script, actor=actor, questions=existing + added
        )
    if publish:
        await knowledge.publish_script(session, script=script, actor=actor)
    await _mark_reviewed(
        session,
        shop_id=shop_id,
        actor=actor,
        action="unanswered.attached",
        pending=pending,
        extra={"script_id": script.id, "added": added, "published": publish},
    )
    return added


async def create_from_questions(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    decision_ids: Sequence[Any],
    title: str,
    answer: str,
    category: str = "",
    publish: bool = False,
) -> Script:
    """A new draft script (published with `publish`) whose variants are the questions."""
    pending = await _pending(session, shop_id=shop_id, decision_ids=decision_ids)
    texts = _texts(pending)
    script = await knowledge.create_script(
        session,
        shop_id=shop_id,
        actor=actor,
        title=title.strip() or (texts[0] if texts else ""),
        answer=answer,
        questions=texts[: knowledge.MAX_QUESTIONS],
        category=category,
        publish=publish,
    )
    await _mark_reviewed(
        session,
        shop_id=shop_id,
        actor=actor,
        action="unanswered.script_created",
        pending=pending,
        extra={"script_id": script.id, "published": publish},
    )
    return script


async def dismiss(
    session: AsyncSession, *, shop_id: int, actor: Actor, decision_ids: Sequence[Any]
) -> int:
    """Marks the questions reviewed without changing any script; returns how many."""
    pending = await _pending(session, shop_id=shop_id, decision_ids=decision_ids)
    await _mark_reviewed(
        session,
        shop_id=shop_id,
        actor=actor,
        action="unanswered.dismissed",
        pending=pending,
        extra={},
    )
    return len(pending)
