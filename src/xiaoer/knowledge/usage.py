"""What other domains record in the script library: uses of a script (the statistics' source),
proposals from agents, and the A/B test rows. Other domains call these functions instead of
writing the library's tables, so its rules (one `inserted` per message, the reload stamp when
what is served changes) live in one place.

Each write runs in the caller's transaction. `record_script_use` also publishes `ScriptUsed`
when asked (`publish=True`): a per-message firehose is not worth an outbox row by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, outbox
from xiaoer.knowledge.events import ScriptProposed, ScriptUsed
from xiaoer.knowledge.models import (
    ProposalKind,
    ProposalStatus,
    Script,
    ScriptAbTest,
    ScriptEvent,
    ScriptEventKind,
    ScriptProposal,
)


async def record_script_use(
    session: AsyncSession,
    *,
    shop_id: int,
    script_id: int,
    kind: ScriptEventKind,
    channel: str,
    variant: str,
    conversation_id: int | None,
    message_id: int | None,
    user_id: int | None = None,
    score: float | None = None,
    matched: bool = False,
    edited: bool | None = None,
    flush: bool = True,
    publish: bool = False,
    actor: outbox.EventActor | None = None,
) -> ScriptEvent:
    """One use of a script. `flush=False` leaves the write to the caller's commit."""
    row = ScriptEvent(
        shop_id=shop_id,
        script_id=script_id,
        kind=kind,
        channel=channel,
        variant=variant,
        conversation_id=conversation_id,
        message_id=message_id,
        user_id=user_id,
        score=score,
        matched=matched,
        edited=edited,
    )
    session.add(row)
    if flush:
        await session.flush()
    if publish:
        await outbox.publish(
            session,
            ScriptUsed(
                shop_id=shop_id,
                actor=actor or outbox.EventActor("user" if user_id else "bot", user_id),
                script_id=script_id,
                kind=str(kind),
                conversation_id=conversation_id,
                message_id=message_id,
                variant=variant,
            ),
        )
    return row


async def script_use_exists(
    session: AsyncSession,
    *,
    conversation_id: int,
    script_id: int,
    kind: ScriptEventKind,
    message_id: int | None,
) -> bool:
    found = await session.scalar(
        select(ScriptEvent.id)
        .where(
            ScriptEvent.conversation_id == conversation_id,
            ScriptEvent.script_id == script_id,
            ScriptEvent.kind == kind,
            ScriptEvent.message_id.is_(None)
            if message_id is None
            else ScriptEvent.message_id == message_id,
        )
        .limit(1)
    )
    return found is not None


async def scripts_used_for(
    session: AsyncSession, *, conversation_id: int, message_id: int, kind: ScriptEventKind
) -> set[int]:
    """Scripts already recorded with `kind` for one customer message."""
    found: Iterable[int] = await session.scalars(
        select(ScriptEvent.script_id).where(
            ScriptEvent.conversation_id == conversation_id,
            ScriptEvent.message_id == message_id,
            ScriptEvent.kind == kind,
        )
    )
    return set(found)


async def add_proposal(
    session: AsyncSession,
    *,
    shop_id: int,
    kind: ProposalKind,
    script_id: int | None,
    question: str,
    title: str,
    answer: str,
    conversation_id: int | None,
    message_id: int | None,
    proposed_by_id: int | None,
) -> ScriptProposal:
    """A question proposed for the library (reviewed by supervisors); publishes ScriptProposed."""
    proposal = ScriptProposal(
        shop_id=shop_id,
        kind=kind,
        script_id=script_id,
        question=question,
        title=title,
        answer=answer,
        conversation_id=conversation_id,
        message_id=message_id,
        proposed_by_id=proposed_by_id,
    )
    session.add(proposal)
    await session.flush()
    await outbox.publish(
        session,
        ScriptProposed(
            shop_id=shop_id,
            actor=outbox.EventActor("user", proposed_by_id),
            proposal_id=proposal.id,
            script_id=script_id,
        ),
    )
    return proposal


def decide_proposal(
    proposal: ScriptProposal, *, status: ProposalStatus, decided_by_id: int | None
) -> None:
    proposal.status = status
    proposal.decided_by_id = decided_by_id
    proposal.decided_at = clock.now()


def served_changed(script: Script, at: Any = None) -> None:
    """What the bot serves for `script` changed: the stamp makes every process reload it."""
    script.published_at = at or clock.now()


async def start_ab_test(session: AsyncSession, *, script: Script, split: float) -> ScriptAbTest:
    test = ScriptAbTest(shop_id=script.shop_id, script_id=script.id, split=split)
    session.add(test)
    script.ab_split = split
    served_changed(script)
    await session.flush()
    return test


def end_ab_test(test: ScriptAbTest, script: Script, *, winner: str | None) -> None:
    test.ended_at = clock.now()
    test.winner = winner
    script.ab_split = None
    served_changed(script, test.ended_at)
