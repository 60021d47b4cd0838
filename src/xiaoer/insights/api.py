"""Insights JSON API (supervisors and admins): script statistics, coverage, unanswered question
clusters and their actions, A/B tests, and the review of agents' script proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from xiaoer.bounds import INT64_MAX, Id
from xiaoer.insights import abtest, clusters, proposals
from xiaoer.insights.coverage import coverage
from xiaoer.insights.schemas import (
    AcceptProposal,
    AttachQuestions,
    CreateFromQuestions,
    PickWinner,
    QuestionsSelection,
    RejectProposal,
    StartAbTest,
)
from xiaoer.insights.service import overview, shop_period
from xiaoer.insights.stats import SORT_KEYS, script_stats, sort_stats
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.models import ProposalStatus
from xiaoer.web.deps import DB, Supervisor, user_actor

router = APIRouter(tags=["insights"])

DateParam = Annotated[str, Query(max_length=10, description="ISO date, e.g. 2026-05-01")]


@router.get("/api/v1/insights")
async def insights_overview(session: DB, user: Supervisor) -> dict[str, Any]:
    return await overview(session, shop_id=user.shop_id)


@router.get("/api/v1/insights/scripts")
async def scripts_statistics(
    session: DB,
    user: Supervisor,
    start: DateParam = "",
    end: DateParam = "",
    sort: Annotated[str, Query(max_length=20)] = "bot_answered",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> dict[str, Any]:
    """Per script and per (channel, variant): suggested, inserted, sent, edited rate, bot
    answers, conversations, resolution and CSAT in the period (default: the last 7 days)."""
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end)
    items = await script_stats(session, shop_id=user.shop_id, period=period)
    items = sort_stats(items, sort if sort in SORT_KEYS else "bot_answered", order == "desc")
    return {**period.params(), "items": [s.as_dict() for s in items]}


@router.get("/api/v1/insights/scripts/{script_id}")
async def script_statistics(
    script_id: Id, session: DB, user: Supervisor, start: DateParam = "", end: DateParam = ""
) -> dict[str, Any]:
    script = await knowledge.access_script(session, user, script_id)
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end)
    items = await script_stats(session, shop_id=user.shop_id, period=period, script_id=script.id)
    return {**period.params(), **items[0].as_dict()}


@router.get("/api/v1/insights/coverage")
async def coverage_report(
    request: Request,
    session: DB,
    user: Supervisor,
    start: DateParam = "",
    end: DateParam = "",
    top: Annotated[int, Query(ge=0, le=100)] = 10,
) -> dict[str, Any]:
    """Covered share of customer messages per day and overall, and the top unmatched clusters."""
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end)
    report = await coverage(session, shop_id=user.shop_id, period=period)
    grouped = await clusters.unanswered_report(
        session, shop_id=user.shop_id, period=period, registry=request.app.state.bot, limit=top
    )
    return {
        **report.as_dict(),
        "top_unmatched": [c.as_dict() for c in grouped.clusters],
        "top_unmatched_pending": grouped.pending,
    }


@router.get("/api/v1/insights/unanswered")
async def unanswered(
    request: Request,
    session: DB,
    user: Supervisor,
    start: DateParam = "",
    end: DateParam = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Unanswered questions of the period (default: today), grouped, largest group first."""
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end, default_days=1)
    grouped = await clusters.unanswered_report(
        session, shop_id=user.shop_id, period=period, registry=request.app.state.bot
    )
    groups = grouped.clusters
    return {
        **period.params(),
        # pending: the grouping is being computed in the background; ask again shortly.
        "pending": grouped.pending,
        "computed_at": grouped.computed_at,
        "questions": sum(c.count for c in groups),
        "clusters": [c.as_dict(all_questions=True) for c in groups[:limit]],
    }


@router.post("/api/v1/insights/unanswered/attach")
async def attach_questions(
    request: Request, body: AttachQuestions, session: DB, user: Supervisor
) -> dict[str, Any]:
    """Adds the questions as variants of an existing script (a draft, or published)."""
    script = await knowledge.access_script(session, user, body.script_id)
    added = await clusters.attach_to_script(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        decision_ids=body.decision_ids,
        script=script,
        publish=body.publish,
    )
    return {"script_id": script.id, "status": str(script.status), "added": added}


@router.post("/api/v1/insights/unanswered/create", status_code=201)
async def create_from_questions(
    request: Request, body: CreateFromQuestions, session: DB, user: Supervisor
) -> dict[str, Any]:
    script = await clusters.create_from_questions(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        decision_ids=body.decision_ids,
        title=body.title,
        answer=body.answer,
        category=body.category,
        publish=body.publish,
    )
    return {
        "script_id": script.id,
        "status": str(script.status),
        "questions": [q.text for q in script.questions],
    }


@router.post("/api/v1/insights/unanswered/dismiss")
async def dismiss_questions(
    request: Request, body: QuestionsSelection, session: DB, user: Supervisor
) -> dict[str, Any]:
    n = await clusters.dismiss(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        decision_ids=body.decision_ids,
    )
    return {"dismissed": n}


# ---- A/B tests ---------------------------------------------------------------------------------


@router.get("/api/v1/insights/ab-tests")
async def list_ab_tests(session: DB, user: Supervisor) -> dict[str, Any]:
    tests = await abtest.list_tests(session, shop_id=user.shop_id)
    reports = [(await abtest.report(session, test=t)).as_dict() for t in tests]
    candidates = await abtest.testable_scripts(session, shop_id=user.shop_id)
    return {
        "items": reports,
        "testable_scripts": [{"id": sid, "title": title} for sid, title in candidates],
    }


@router.post("/api/v1/insights/ab-tests", status_code=201)
async def start_ab_test(
    request: Request, body: StartAbTest, session: DB, user: Supervisor
) -> dict[str, Any]:
    script = await knowledge.access_script(session, user, body.script_id)
    test = await abtest.start_test(
        session, script=script, actor=user_actor(request, user), split=body.split
    )
    return (await abtest.report(session, test=test)).as_dict()


@router.get("/api/v1/insights/ab-tests/{test_id}")
async def ab_test_report(test_id: Id, session: DB, user: Supervisor) -> dict[str, Any]:
    test = await abtest.access_test(session, user, test_id)
    return (await abtest.report(session, test=test)).as_dict()


@router.post("/api/v1/insights/ab-tests/{test_id}/stop")
async def stop_ab_test(
    request: Request, test_id: Id, session: DB, user: Supervisor
) -> dict[str, Any]:
    test = await abtest.access_test(session, user, test_id)
    await abtest.stop_test(session, test=test, actor=user_actor(request, user))
    return (await abtest.report(session, test=test)).as_dict()


@router.post("/api/v1/insights/ab-tests/{test_id}/winner")
async def pick_ab_winner(
    request: Request, test_id: Id, body: PickWinner, session: DB, user: Supervisor
) -> dict[str, Any]:
    test = await abtest.access_test(session, user, test_id)
    await abtest.pick_winner(
        session, test=test, actor=user_actor(request, user), winner=body.variant
    )
    return (await abtest.report(session, test=test)).as_dict()


# ---- proposals ---------------------------------------------------------------------------------


@router.get("/api/v1/script-proposals")
async def list_script_proposals(
    session: DB,
    user: Supervisor,
    status: Annotated[str, Query(pattern="^(open|accepted|rejected|all)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> dict[str, Any]:
    wanted = None if status == "all" else ProposalStatus(status)
    items, total = await proposals.list_proposals(
        session, shop_id=user.shop_id, status=wanted, limit=limit, offset=offset
    )
    links = await proposals.links_for(session, items)
    return {
        "items": [proposals.proposal_dict(p, links) for p in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/api/v1/script-proposals/{proposal_id}")
async def get_script_proposal(proposal_id: Id, session: DB, user: Supervisor) -> dict[str, Any]:
    proposal = await proposals.access_proposal(session, user, proposal_id)
    links = await proposals.links_for(session, [proposal])
    return proposals.proposal_dict(proposal, links)


@router.post("/api/v1/script-proposals/{proposal_id}/accept")
async def accept_script_proposal(
    request: Request, proposal_id: Id, body: AcceptProposal, session: DB, user: Supervisor
) -> dict[str, Any]:
    proposal = await proposals.access_proposal(session, user, proposal_id)
    script = await proposals.accept_proposal(
        session,
        proposal=proposal,
        actor=user_actor(request, user),
        publish=body.publish,
        title=body.title,
        answer=body.answer,
        category=body.category,
    )
    links = await proposals.links_for(session, [proposal])
    return {**proposals.proposal_dict(proposal, links), "script_status": str(script.status)}


@router.post("/api/v1/script-proposals/{proposal_id}/reject")
async def reject_script_proposal(
    request: Request, proposal_id: Id, body: RejectProposal, session: DB, user: Supervisor
) -> dict[str, Any]:
    proposal = await proposals.access_proposal(session, user, proposal_id)
    await proposals.reject_proposal(
        session, proposal=proposal, actor=user_actor(request, user), reason=body.reason
    )
    return proposals.proposal_dict(proposal)
