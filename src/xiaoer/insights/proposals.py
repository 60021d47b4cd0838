"""Supervisors' review of agents' proposals (made from a conversation in the workspace).

Accepting a `new_variant` proposal adds the customer's question to the script (a new draft of
it, published at once on request); accepting a `new_script` proposal creates a draft script
(or a published one) from the question. Rejecting only closes the proposal. Both are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.errors import Conflict, NotFound
from xiaoer.insights.clusters import question_text
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge import usage
from xiaoer.knowledge.models import (
    ProposalKind,
    ProposalStatus,
    Script,
    ScriptProposal,
    ScriptStatus,
)

MAX_REASON = 500


async def access_proposal(session: AsyncSession, user: User, proposal_id: int) -> ScriptProposal:
    """The only permission-checked fetch of a user-supplied proposal id."""
    proposal = await session.get(ScriptProposal, proposal_id)
    if proposal is None or proposal.shop_id != user.shop_id:
        raise NotFound("proposal not found")
    return proposal


async def list_proposals(
    session: AsyncSession,
    *,
    shop_id: int,
    status: ProposalStatus | None = ProposalStatus.open,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ScriptProposal], int]:
    """(page, total); open proposals oldest first (a queue), decided ones newest first."""
    query = select(ScriptProposal).where(ScriptProposal.shop_id == shop_id)
    if status is not None:
        query = query.where(ScriptProposal.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = ScriptProposal.id if status == ProposalStatus.open else ScriptProposal.id.desc()
    page = await session.scalars(query.order_by(order).limit(limit).offset(offset))
    return list(page), int(total)


@dataclass
class ProposalLinks:
    scripts: dict[int, Script]
    users: dict[int, User]


async def links_for(session: AsyncSession, proposals: list[ScriptProposal]) -> ProposalLinks:
    """The scripts and staff the proposals name, fetched once."""
    script_ids = {p.script_id for p in proposals if p.script_id is not None}
    user_ids = {u for p in proposals for u in (p.proposed_by_id, p.decided_by_id) if u is not None}
    scripts: dict[int, Script] = {}
    if script_ids:
        shop_id = proposals[0].shop_id
        scripts = await knowledge.get_scripts(
            session, shop_id=shop_id, script_ids=sorted(script_ids)
        )
    users: dict[int, User] = {}
    if user_ids:
        rows = await session.scalars(select(User).where(User.id.in_(sorted(user_ids))))
        users = {u.id: u for u in rows}
    return ProposalLinks(scripts=scripts, users=users)


def proposal_dict(p: ScriptProposal, links: ProposalLinks | None = None) -> dict[str, Any]:
    script = links.scripts.get(p.script_id) if links and p.script_id is not None else None
    proposer = links.users.get(p.proposed_by_id) if links and p.proposed_by_id else None
    return {
        "id": p.id,
        "kind": str(p.kind),
        "status": str(p.status),
        "question": p.question,
        "title": p.title,
        "answer": p.answer,
        "script_id": p.script_id,
        "script_title": script.title if script is not None else None,
        "conversation_id": p.conversation_id,
        "message_id": p.message_id,
        "proposed_by_id": p.proposed_by_id,
        "proposed_by": proposer.display_name if proposer is not None else None,
        "decided_by_id": p.decided_by_id,
        "decided_at": p.decided_at,
        "created_at": p.created_at,
    }


def _state(p: ScriptProposal) -> dict[str, Any]:
    return {"status": str(p.status), "script_id": p.script_id}


def _open(proposal: ScriptProposal) -> None:
    if proposal.status != ProposalStatus.open:
        raise Conflict("this proposal was already decided", code="already_decided")


async def _decide(
    session: AsyncSession,
    *,
    proposal: ScriptProposal,
    actor: Actor,
    status: ProposalStatus,
    action: str,
    before: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    usage.decide_proposal(
        proposal, status=status, decided_by_id=actor.id if actor.type == "user" else None
    )
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="script_proposal",
        entity_id=proposal.id,
        before=before,
        after={**_state(proposal), **extra},
        shop_id=proposal.shop_id,
    )


async def accept_proposal(
    session: AsyncSession,
    *,
    proposal: ScriptProposal,
    actor: Actor,
    publish: bool = False,
    title: str | None = None,
    answer: str | None = None,
    category: str = "",
) -> Script:
    """Applies the proposal; `title`/`answer` override the proposed ones for a new script."""
    _open(proposal)
    before = _state(proposal)
    question = question_text(proposal.question) or proposal.question
    if proposal.kind == ProposalKind.new_variant:
        script = (
            await session.get(Script, proposal.script_id)
            if proposal.script_id is not None
            else None
        )
        if (
            script is None
            or script.shop_id != proposal.shop_id
            or script.status == ScriptStatus.retired
        ):
            raise Conflict("the proposed script no longer exists", code="script_gone")
        existing = [q.text for q in script.questions]
        if question not in existing:
            await knowledge.update_script(
                session, script=script, actor=actor, questions=[*existing, question]
            )
        if publish:
            await knowledge.publish_script(session, script=script, actor=actor)
    else:
        script = await knowledge.create_script(
            session,
            shop_id=proposal.shop_id,
            actor=actor,
            title=(title or "").strip() or proposal.title.strip() or question[:200],
            answer=answer if answer is not None and answer.strip() else proposal.answer,
            questions=[question],
            category=category,
            publish=publish,
        )
        proposal.script_id = script.id
    await _decide(
        session,
        proposal=proposal,
        actor=actor,
        status=ProposalStatus.accepted,
        action="script_proposal.accepted",
        before=before,
        extra={"published": publish},
    )
    return script


async def reject_proposal(
    session: AsyncSession, *, proposal: ScriptProposal, actor: Actor, reason: str = ""
) -> ScriptProposal:
    _open(proposal)
    await _decide(
        session,
        proposal=proposal,
        actor=actor,
        status=ProposalStatus.rejected,
        action="script_proposal.rejected",
        before=_state(proposal),
        extra={"reason": reason.strip()[:MAX_REASON]},
    )
    return proposal


async def count_open(session: AsyncSession, *, shop_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                ScriptProposal.shop_id == shop_id, ScriptProposal.status == ProposalStatus.open
            )
        )
        or 0
    )
