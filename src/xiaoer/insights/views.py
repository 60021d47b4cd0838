"""Insights pages for supervisors and admins: script statistics, coverage, the daily unanswered
question groups with their actions, the proposals queue and A/B tests.

Forms post normally and redirect (303) with a notice; a refused action re-renders the page with
the message and the error's 4xx status.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.auth.models import User
from xiaoer.bounds import Id
from xiaoer.errors import DomainError, InvalidInput
from xiaoer.insights import abtest, clusters, proposals
from xiaoer.insights.coverage import coverage
from xiaoer.insights.period import Period
from xiaoer.insights.service import overview, shop_period
from xiaoer.insights.stats import SORT_KEYS, script_stats, sort_stats
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.models import ProposalStatus
from xiaoer.web.deps import DB, Supervisor, user_actor
from xiaoer.web.i18n import request_locale, translate
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

DateParam = Annotated[str, Query(max_length=10)]
NOTICES = (
    "attached",
    "attached_published",
    "created",
    "dismissed",
    "accepted",
    "rejected",
    "started",
    "stopped",
    "winner",
)
PROPOSAL_TABS = ("open", "accepted", "rejected")


def _t(request: Request, key: str, **params: object) -> str:
    locale = request_locale(request, request.app.state.settings.default_locale)
    return translate(locale, key, **params)


def _notice(request: Request) -> str:
    notice = request.query_params.get("notice", "")
    return notice if notice in NOTICES else ""


async def _page(
    request: Request,
    session: AsyncSession,
    user: User,
    name: str,
    tab: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    ctx = {
        "tab": tab,
        "counts": await overview(session, shop_id=user.shop_id),
        "notice": _notice(request),
        "error": "",
        **context,
    }
    return render(request, f"insights/{name}", ctx, status_code)


def _redirect(path: str, notice: str, period: Period | None = None) -> RedirectResponse:
    query = f"?notice={notice}"
    if period is not None:
        query += f"&start={period.first.isoformat()}&end={period.last.isoformat()}"
    return RedirectResponse(path + query, status_code=303)


@router.get("/insights")
async def insights_home(user: Supervisor) -> Response:
    return RedirectResponse("/insights/scripts", status_code=303)


# ---- statistics ----------------------------------------------------------------------------------


@router.get("/insights/scripts")
async def scripts_page(
    request: Request,
    session: DB,
    user: Supervisor,
    start: DateParam = "",
    end: DateParam = "",
    sort: Annotated[str, Query(max_length=20)] = "bot_answered",
    order: Annotated[str, Query(max_length=4)] = "desc",
    used: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end)
    sort = sort if sort in SORT_KEYS else "bot_answered"
    descending = order != "asc"
    items = sort_stats(
        await script_stats(session, shop_id=user.shop_id, period=period), sort, descending
    )
    if used:
        items = [s for s in items if s.usage.outcomes.conversations or s.usage.suggested]
    return await _page(
        request,
        session,
        user,
        "scripts.html",
        "scripts",
        {
            "period": period,
            "items": items,
            "sort": sort,
            "order": "desc" if descending else "asc",
            "used": used,
            "columns": list(SORT_KEYS),
        },
    )


@router.get("/insights/coverage")
async def coverage_page(
    request: Request, session: DB, user: Supervisor, start: DateParam = "", end: DateParam = ""
) -> Response:
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end)
    report = await coverage(session, shop_id=user.shop_id, period=period)
    grouped = await clusters.unanswered_report(
        session, shop_id=user.shop_id, period=period, registry=request.app.state.bot, limit=10
    )
    return await _page(
        request,
        session,
        user,
        "coverage.html",
        "coverage",
        {"period": period, "report": report, "top": grouped.clusters, "pending": grouped.pending},
    )


# ---- unanswered questions ------------------------------------------------------------------------


async def _unanswered(
    request: Request,
    session: AsyncSession,
    user: User,
    period: Period,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    grouped = await clusters.unanswered_report(
        session, shop_id=user.shop_id, period=period, registry=request.app.state.bot
    )
    groups = grouped.clusters
    scripts, _ = await knowledge.list_scripts(session, shop_id=user.shop_id, limit=1000)
    return await _page(
        request,
        session,
        user,
        "unanswered.html",
        "unanswered",
        {
            "period": period,
            "clusters": groups[:200],
            "pending": grouped.pending,
            "questions": sum(c.count for c in groups),
            "scripts": sorted(scripts, key=lambda s: (s.category, s.title)),
            "error": error,
        },
        status_code,
    )


@router.get("/insights/unanswered")
async def unanswered_page(
    request: Request, session: DB, user: Supervisor, start: DateParam = "", end: DateParam = ""
) -> Response:
    """Default: today's questions (the daily review)."""
    period = await shop_period(session, shop_id=user.shop_id, start=start, end=end, default_days=1)
    return await _unanswered(request, session, user, period)


def _selected_ids(form: Any) -> list[str]:
    """Ticked question groups (each checkbox carries the ids of one text), else the whole
    cluster's ids."""
    chosen = [str(v) for v in form.getlist("ids") if str(v).strip()]
    raw = chosen or [str(form.get("all_ids", ""))]
    return [part for value in raw for part in value.split(",") if part.strip()]


@router.post("/insights/unanswered/{action}")
async def unanswered_action(
    request: Request, action: str, session: DB, user: Supervisor
) -> Response:
    form = await request.form()
    period = await shop_period(
        session,
        shop_id=user.shop_id,
        start=str(form.get("start", ""))[:10],
        end=str(form.get("end", ""))[:10],
        default_days=1,
    )
    actor = user_actor(request, user)
    ids = _selected_ids(form)
    publish = form.get("publish") == "1"
    try:
        # A refused action leaves nothing behind; the page then renders the message.
        async with session.begin_nested():
            if action == "attach":
                raw_id = str(form.get("script_id", "")).strip()
                if not raw_id.isdigit():
                    raise InvalidInput(_t(request, "insights.error_pick_script"), code="no_script")
                script = await knowledge.access_script(session, user, int(raw_id))
                await clusters.attach_to_script(
                    session,
                    shop_id=user.shop_id,
                    actor=actor,
                    decision_ids=ids,
                    script=script,
                    publish=publish,
                )
                notice = "attached_published" if publish else "attached"
            elif action == "create":
                script = await clusters.create_from_questions(
                    session,
                    shop_id=user.shop_id,
                    actor=actor,
                    decision_ids=ids,
                    title=str(form.get("title", ""))[:200],
                    answer=str(form.get("answer", ""))[:4000],
                    category=str(form.get("category", ""))[:100],
                    publish=publish,
                )
                notice = "created"
            elif action == "dismiss":
                await clusters.dismiss(session, shop_id=user.shop_id, actor=actor, decision_ids=ids)
                notice = "dismissed"
            else:
                raise InvalidInput("unknown action", code="unknown_action")
    except DomainError as exc:
        return await _unanswered(
            request, session, user, period, error=exc.message, status_code=exc.status_code
        )
    return _redirect("/insights/unanswered", notice, period)


# ---- proposals -----------------------------------------------------------------------------------


async def _proposals(
    request: Request,
    session: AsyncSession,
    user: User,
    status: str,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    status = status if status in PROPOSAL_TABS else "open"
    items, total = await proposals.list_proposals(
        session, shop_id=user.shop_id, status=ProposalStatus(status), limit=100
    )
    return await _page(
        request,
        session,
        user,
        "proposals.html",
        "proposals",
        {
            "items": items,
            "total": total,
            "links": await proposals.links_for(session, items),
            "status": status,
            "tabs": PROPOSAL_TABS,
            "error": error,
        },
        status_code,
    )


@router.get("/insights/proposals")
async def proposals_page(
    request: Request,
    session: DB,
    user: Supervisor,
    status: Annotated[str, Query(max_length=10)] = "open",
) -> Response:
    return await _proposals(request, session, user, status)


@router.post("/insights/proposals/{proposal_id}/{action}")
async def proposal_action(
    request: Request, proposal_id: Id, action: str, session: DB, user: Supervisor
) -> Response:
    proposal = await proposals.access_proposal(session, user, proposal_id)
    form = await request.form()
    actor = user_actor(request, user)
    try:
        # A refused action leaves nothing behind; the page then renders the message.
        async with session.begin_nested():
            if action == "accept":
                await proposals.accept_proposal(
                    session,
                    proposal=proposal,
                    actor=actor,
                    publish=form.get("publish") == "1",
                    title=str(form.get("title", ""))[:200] or None,
                    answer=str(form.get("answer", ""))[:4000] or None,
                    category=str(form.get("category", ""))[:100],
                )
                notice = "accepted"
            elif action == "reject":
                await proposals.reject_proposal(
                    session, proposal=proposal, actor=actor, reason=str(form.get("reason", ""))
                )
                notice = "rejected"
            else:
                raise InvalidInput("unknown action", code="unknown_action")
    except DomainError as exc:
        return await _proposals(
            request, session, user, "open", error=exc.message, status_code=exc.status_code
        )
    return _redirect("/insights/proposals", notice)


# ---- A/B tests -----------------------------------------------------------------------------------


async def _ab(
    request: Request,
    session: AsyncSession,
    user: User,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    tests = await abtest.list_tests(session, shop_id=user.shop_id)
    reports = [await abtest.report(session, test=t) for t in tests]
    return await _page(
        request,
        session,
        user,
        "ab.html",
        "ab",
        {
            "running": [r for r in reports if r.test.ended_at is None],
            "finished": [r for r in reports if r.test.ended_at is not None],
            "candidates": await abtest.testable_scripts(session, shop_id=user.shop_id),
            "preselect": request.query_params.get("script_id", ""),
            "error": error,
        },
        status_code,
    )


@router.get("/insights/ab")
async def ab_page(request: Request, session: DB, user: Supervisor) -> Response:
    return await _ab(request, session, user)


def _split(raw: Any) -> float:
    try:
        percent = float(str(raw or "50").strip())
    except ValueError:
        raise InvalidInput("the B share must be a number", code="invalid_split") from None
    return percent / 100


@router.post("/insights/ab/start")
async def ab_start(request: Request, session: DB, user: Supervisor) -> Response:
    form = await request.form()
    try:
        async with session.begin_nested():
            raw_id = str(form.get("script_id", "")).strip()
            if not raw_id.isdigit():
                raise InvalidInput(_t(request, "insights.error_pick_script"), code="no_script")
            script = await knowledge.access_script(session, user, int(raw_id))
            await abtest.start_test(
                session,
                script=script,
                actor=user_actor(request, user),
                split=_split(form.get("split_percent")),
            )
    except DomainError as exc:
        return await _ab(request, session, user, error=exc.message, status_code=exc.status_code)
    return _redirect("/insights/ab", "started")


@router.post("/insights/ab/{test_id}/{action}")
async def ab_action(
    request: Request, test_id: Id, action: str, session: DB, user: Supervisor
) -> Response:
    test = await abtest.access_test(session, user, test_id)
    actor = user_actor(request, user)
    try:
        async with session.begin_nested():
            if action in ("winner-a", "winner-b"):
                await abtest.pick_winner(session, test=test, actor=actor, winner=action[-1].upper())
                notice = "winner"
            elif action == "stop":
                await abtest.stop_test(session, test=test, actor=actor)
                notice = "stopped"
            else:
                raise InvalidInput("unknown action", code="unknown_action")
    except DomainError as exc:
        return await _ab(request, session, user, error=exc.message, status_code=exc.status_code)
    return _redirect("/insights/ab", notice)
