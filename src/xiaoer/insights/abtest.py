"""A/B tests of a script's answer wordings.

Starting a test sets `Script.ab_split` (the share of conversations served wording B) and touches
`published_at`, so `library_version` changes and the bot reloads the split on its next message.
A test ends when it is stopped or a winner is picked. If B wins, each channel's B wording
becomes that channel's A wording and the script is published as a new version (the bot
retrains); if A wins nothing is served differently. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock
from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth.models import User
from xiaoer.errors import Conflict, InvalidInput, NotFound
from xiaoer.insights import intervals
from xiaoer.insights.stats import Outcomes, Usage, event_counts, outcomes_by, uses_subquery
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge import usage
from xiaoer.knowledge.library import served_content
from xiaoer.knowledge.models import Script, ScriptAbTest, ScriptStatus, ScriptVersion

MIN_SPLIT = 0.05
MAX_SPLIT = 0.95
VARIANTS = ("A", "B")


async def access_test(session: AsyncSession, user: User, test_id: int) -> ScriptAbTest:
    """The only permission-checked fetch of a user-supplied A/B test id."""
    test = await session.get(ScriptAbTest, test_id)
    if test is None or test.shop_id != user.shop_id:
        raise NotFound("A/B test not found")
    return test


def b_wordings(content: dict[str, Any] | None) -> dict[str, str]:
    """channel → B wording in a version's content."""
    return {
        a["channel"]: a["body"]
        for a in (content or {}).get("answers") or ()
        if a.get("variant") == "B" and a.get("body")
    }


async def running_test(session: AsyncSession, *, script_id: int) -> ScriptAbTest | None:
    return await session.scalar(
        select(ScriptAbTest)
        .where(ScriptAbTest.script_id == script_id, ScriptAbTest.ended_at.is_(None))
        .order_by(ScriptAbTest.id.desc())
        .limit(1)
    )


def _state(test: ScriptAbTest, script: Script) -> dict[str, Any]:
    return {
        "script_id": script.id,
        "split": test.split,
        "ended_at": test.ended_at.isoformat() if test.ended_at else None,
        "winner": test.winner,
        "ab_split": script.ab_split,
    }


async def _audit(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    test: ScriptAbTest,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    if before is not None:
        before, after = audit.diff(before, after)
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="script_ab_test",
        entity_id=test.id,
        before=before,
        after=after,
        shop_id=test.shop_id,
    )


def clean_split(split: float) -> float:
    if not MIN_SPLIT <= split <= MAX_SPLIT:
        raise InvalidInput(
            f"the B share must be between {MIN_SPLIT:.0%} and {MAX_SPLIT:.0%}",
            code="invalid_split",
        )
    return round(float(split), 4)


async def start_test(
    session: AsyncSession, *, script: Script, actor: Actor, split: float = 0.5
) -> ScriptAbTest:
    """Serves the published B wording to `split` of the conversations from now on."""
    split = clean_split(split)
    if script.status == ScriptStatus.retired:
        raise NotFound("script not found")
    if not b_wordings(await served_content(session, script)):
        raise Conflict(
            "the published version of this script has no B wording; add one and publish first",
            code="no_b_wording",
        )
    if await running_test(session, script_id=script.id) is not None:
        raise Conflict("an A/B test of this script is already running", code="test_running")
    test = await usage.start_ab_test(session, script=script, split=split)
    await _audit(
        session,
        actor=actor,
        action="ab_test.started",
        test=test,
        before=None,
        after=_state(test, script),
    )
    return test


async def _end(
    session: AsyncSession, *, test: ScriptAbTest, script: Script, winner: str | None
) -> None:
    if test.ended_at is not None:
        raise Conflict("this A/B test has already ended", code="test_ended")
    usage.end_ab_test(test, script, winner=winner)


async def _script_of(session: AsyncSession, test: ScriptAbTest) -> Script:
    script = await session.get(Script, test.script_id)
    if script is None or script.shop_id != test.shop_id:
        raise NotFound("script not found")
    return script


async def stop_test(session: AsyncSession, *, test: ScriptAbTest, actor: Actor) -> ScriptAbTest:
    """Ends the test without a winner: everyone gets wording A again."""
    script = await _script_of(session, test)
    before = _state(test, script)
    await _end(session, test=test, script=script, winner=None)
    await session.flush()
    await _audit(
        session,
        actor=actor,
        action="ab_test.stopped",
        test=test,
        before=before,
        after=_state(test, script),
    )
    return test


async def pick_winner(
    session: AsyncSession, *, test: ScriptAbTest, actor: Actor, winner: str
) -> ScriptAbTest:
    """Ends the test with `winner`. B winning makes each B wording its channel's A wording and
    publishes that as a new version. A script with unpublished edits is refused for B, so
    nobody's unreviewed draft gets published along with the winner."""
    if winner not in VARIANTS:
        raise InvalidInput("the winner is A or B", code="invalid_variant")
    script = await _script_of(session, test)
    if test.ended_at is not None:
        raise Conflict("this A/B test has already ended", code="test_ended")
    before = _state(test, script)
    if winner == "B":
        if script.status != ScriptStatus.published:
            raise Conflict(
                "the script has unpublished changes; publish or discard them before B wins",
                code="script_has_draft",
            )
        wordings = b_wordings(await served_content(session, script))
        if not wordings:
            raise Conflict("the served version has no B wording", code="no_b_wording")
        answers: dict[tuple[str, str], str | None] = {}
        new_answer = None
        for channel, body in wordings.items():
            if channel == "im":
                new_answer = body
            else:
                answers[(channel, "A")] = body
            answers[(channel, "B")] = None  # the wording is A now; B is left empty
        await _end(session, test=test, script=script, winner=winner)
        await knowledge.update_script(
            session, script=script, actor=actor, answer=new_answer, answers=answers
        )
        await knowledge.publish_script(
            session, script=script, actor=actor, note=f"A/B test #{test.id}: B won"
        )
    else:
        await _end(session, test=test, script=script, winner=winner)
    await session.flush()
    await _audit(
        session,
        actor=actor,
        action="ab_test.winner_picked",
        test=test,
        before=before,
        after=_state(test, script),
    )
    return test


# ---- report ------------------------------------------------------------------------------------


@dataclass
class VariantReport:
    variant: str
    usage: Usage

    @property
    def outcomes(self) -> Outcomes:
        return self.usage.outcomes

    @property
    def uses(self) -> int:
        return self.usage.bot_answered + self.usage.sent

    def resolution_interval(self) -> intervals.Interval | None:
        return intervals.wilson(self.outcomes.resolved, self.outcomes.conversations)

    def csat_interval(self) -> intervals.Interval | None:
        o = self.outcomes
        return intervals.mean_interval(o.rated, o.rating_sum, o.rating_sq)

    def as_dict(self) -> dict[str, Any]:
        res, csat = self.resolution_interval(), self.csat_interval()
        return {
            "variant": self.variant,
            "uses": self.uses,
            **self.usage.as_dict(),
            "resolution_ci": res.as_dict() if res else None,
            "csat_ci": csat.as_dict() if csat else None,
        }


@dataclass
class AbReport:
    test: ScriptAbTest
    title: str
    a: VariantReport
    b: VariantReport

    def resolution_difference(self) -> intervals.Interval | None:
        """B − A resolution rate."""
        a, b = self.a.outcomes, self.b.outcomes
        return intervals.proportion_difference(
            a.resolved, a.conversations, b.resolved, b.conversations
        )

    def csat_difference(self) -> intervals.Interval | None:
        """B − A mean rating."""
        a, b = self.a.outcomes, self.b.outcomes
        return intervals.mean_difference(
            a.rated, a.rating_sum, a.rating_sq, b.rated, b.rating_sum, b.rating_sq
        )

    def as_dict(self) -> dict[str, Any]:
        t = self.test
        res, csat = self.resolution_difference(), self.csat_difference()
        return {
            "id": t.id,
            "script_id": t.script_id,
            "title": self.title,
            "split": t.split,
            "started_at": t.created_at,
            "ended_at": t.ended_at,
            "winner": t.winner,
            "running": t.ended_at is None,
            "variants": {"A": self.a.as_dict(), "B": self.b.as_dict()},
            "resolution_difference": (
                {**res.as_dict(), "significant": res.excludes_zero} if res else None
            ),
            "csat_difference": (
                {**csat.as_dict(), "significant": csat.excludes_zero} if csat else None
            ),
        }


async def report(session: AsyncSession, *, test: ScriptAbTest) -> AbReport:
    """Per variant (all channels together): uses, conversations, resolution and CSAT from the
    script's events between the test's start and end."""
    kw: dict[str, Any] = {
        "shop_id": test.shop_id,
        "start": test.created_at,
        "end": test.ended_at,
        "script_id": test.script_id,
    }
    counts = await event_counts(session, keys=["variant"], **kw)
    outcomes = await outcomes_by(session, uses_subquery(keys=["variant"], **kw), ["variant"])
    sides = {}
    for v in VARIANTS:
        usage = counts.get(v) or Usage()
        usage.outcomes = outcomes.get(v) or Outcomes()
        sides[v] = VariantReport(v, usage)
    title = await session.scalar(select(Script.title).where(Script.id == test.script_id))
    return AbReport(test=test, title=title or "", a=sides["A"], b=sides["B"])


async def list_tests(session: AsyncSession, *, shop_id: int, limit: int = 50) -> list[ScriptAbTest]:
    """Running tests first, then finished ones, newest first."""
    result = await session.scalars(
        select(ScriptAbTest)
        .where(ScriptAbTest.shop_id == shop_id)
        .order_by(ScriptAbTest.ended_at.is_not(None), ScriptAbTest.id.desc())
        .limit(limit)
    )
    return list(result)


async def testable_scripts(session: AsyncSession, *, shop_id: int) -> list[tuple[int, str]]:
    """(id, title) of published scripts whose served version has a B wording and no running
    test."""
    running = select(ScriptAbTest.script_id).where(
        ScriptAbTest.shop_id == shop_id, ScriptAbTest.ended_at.is_(None)
    )
    rows = await session.execute(
        select(Script.id, Script.title, ScriptVersion.content)
        .join(
            ScriptVersion,
            (ScriptVersion.script_id == Script.id)
            & (ScriptVersion.version == Script.published_version),
        )
        .where(
            Script.shop_id == shop_id,
            Script.status != ScriptStatus.retired,
            Script.id.not_in(running),
        )
        .order_by(Script.id)
    )
    return [(sid, title) for sid, title, content in rows if b_wordings(content)]


async def count_running(session: AsyncSession, *, shop_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                ScriptAbTest.shop_id == shop_id, ScriptAbTest.ended_at.is_(None)
            )
        )
        or 0
    )


def ended_at_or_now(test: ScriptAbTest) -> dt.datetime:
    return test.ended_at or clock.now()
