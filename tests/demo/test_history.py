"""The demo shop's two weeks of history make the insights pages show real-looking numbers, and
the rows are what the product itself would have written."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from tests.conftest import in_database, seed_shop
from xiaoer.audit.models import AuditEntry
from xiaoer.bot.engine import BotRegistry
from xiaoer.conversations.models import Conversation
from xiaoer.demo.history import AB_TITLE, DAYS
from xiaoer.insights import abtest, clusters, coverage, proposals, stats
from xiaoer.insights.period import parse_period
from xiaoer.knowledge.models import ScriptAbTest

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def shop(database_url):  # type: ignore[no-untyped-def]
    """One shop with history for the whole module: seeding it trains the bot (seconds)."""
    return seed_shop(database_url, "history", history=True)


def _period():  # type: ignore[no-untyped-def]
    today = dt.datetime.now(TZ).date()
    return parse_period(
        (today - dt.timedelta(days=DAYS - 1)).isoformat(), today.isoformat(), tz="Asia/Shanghai"
    )


def _rows(sync_engine, sql, **params):  # type: ignore[no-untyped-def]
    with sync_engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_summary_counts_what_was_seeded(shop, sync_engine):
    h = shop.history
    assert h is not None
    assert 130 <= h.conversations <= 180
    assert h.messages > 4 * h.conversations
    assert h.bot_decisions > 150
    assert h.script_events > 300
    assert 3 <= h.proposals <= 5
    assert h.ab_test_script == AB_TITLE
    assert f"{h.conversations} conversations" in h.line()
    (count,) = _rows(
        sync_engine, "select count(*) from conversation where shop_id = :s", s=shop.shop_id
    )[0]
    assert count == h.conversations


def test_fixture_shops_have_no_history(demo_shop, sync_engine):
    assert demo_shop.history is None
    rows = _rows(
        sync_engine, "select count(*) from conversation where shop_id = :s", s=demo_shop.shop_id
    )
    assert rows[0][0] == 0


def test_insights_show_non_trivial_numbers(shop, database_url):
    period = _period()

    async def work(session):  # type: ignore[no-untyped-def]
        cov = await coverage.coverage(session, shop_id=shop.shop_id, period=period)
        per_script = await stats.script_stats(session, shop_id=shop.shop_id, period=period)
        groups = await clusters.unanswered_clusters(
            session, shop_id=shop.shop_id, period=period, registry=BotRegistry(None)
        )
        open_count = await proposals.count_open(session, shop_id=shop.shop_id)
        return cov, per_script, groups, open_count

    cov, per_script, groups, open_count = in_database(database_url, work, commit=False)
    assert cov.share is not None
    assert 0 < cov.share < 1
    assert sum(1 for d in cov.days if d.messages) >= DAYS - 2  # spread over the two weeks
    assert len([g for g in groups if g.count >= 2]) >= 3
    assert any(g.suggested_script_id for g in groups)
    assert sum(1 for s in per_script if s.usage.bot_answered > 0) >= 10
    assert sum(1 for s in per_script if s.usage.sent > 0) >= 5
    assert any(s.usage.edited for s in per_script)
    assert any(s.usage.suggested for s in per_script)
    conversations = sum(s.usage.outcomes.conversations for s in per_script)
    resolved = sum(s.usage.outcomes.resolved for s in per_script)
    assert 0 < resolved < conversations
    rated = [s for s in per_script if s.usage.outcomes.rated]
    assert rated
    assert all(1 <= (s.usage.outcomes.csat_mean or 0) <= 5 for s in rated)
    assert any({"email", "phone"} & {v.channel for v in s.variants} for s in per_script)
    assert open_count >= 3


def test_ab_test_runs_with_both_variants_in_its_period(shop, database_url):
    async def work(session):  # type: ignore[no-untyped-def]
        tests = await abtest.list_tests(session, shop_id=shop.shop_id)
        assert len(tests) == 1
        report = await abtest.report(session, test=tests[0])
        b = abtest.b_wordings(
            await abtest.served_content(session, await abtest._script_of(session, tests[0]))
        )
        return report.as_dict(), b

    report, b_wordings = in_database(database_url, work, commit=False)
    assert report["running"]
    assert report["split"] == 0.5
    assert report["title"] == AB_TITLE
    assert "im" in b_wordings
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=7) < now - report["started_at"] < dt.timedelta(days=DAYS)
    for side in report["variants"].values():
        assert side["uses"] > 0
        assert side["conversations"] > 0
        assert side["rated"] > 0
    assert report["resolution_difference"] is not None


def test_no_b_variant_before_the_test_started(shop, sync_engine):
    rows = _rows(
        sync_engine,
        "select count(*) from script_event e join script_ab_test t on t.script_id = e.script_id "
        "where e.shop_id = :s and e.variant = 'B' and e.created_at < t.created_at",
        s=shop.shop_id,
    )
    assert rows[0][0] == 0


def test_bot_decisions_point_at_published_scripts_of_the_shop(shop, sync_engine):
    rows = _rows(
        sync_engine,
        "select d.script_id, s.shop_id, s.published_version, s.status, s.bot_enabled "
        "from bot_decision d left join script s on s.id = d.script_id where d.shop_id = :s",
        s=shop.shop_id,
    )
    with_script = [r for r in rows if r.script_id is not None]
    assert len(with_script) > len(rows) / 2
    assert len(with_script) < len(rows)
    for r in with_script:
        assert r.shop_id == shop.shop_id
        assert r.published_version is not None
        assert r.status == "published"
        assert r.bot_enabled
    reasons = {
        r[0]
        for r in _rows(
            sync_engine,
            "select handoff_reason from bot_decision where shop_id = :s and handoff",
            s=shop.shop_id,
        )
    }
    assert {"customer_request", "negative_emotion", "unanswered_turns"} <= reasons


def test_rows_are_consistent(shop, sync_engine):
    s = shop.shop_id
    # Every event's message is a customer message of the event's conversation.
    bad_events = _rows(
        sync_engine,
        "select e.id from script_event e left join message m on m.id = e.message_id "
        "where e.shop_id = :s and (m.id is null or m.conversation_id <> e.conversation_id "
        "or m.sender_type <> 'customer' or e.created_at < m.created_at)",
        s=s,
    )
    assert bad_events == []
    decisions = _rows(
        sync_engine,
        "select d.id from bot_decision d join message m on m.id = d.message_id "
        "where d.shop_id = :s and (m.conversation_id <> d.conversation_id "
        "or m.sender_type <> 'customer')",
        s=s,
    )
    assert decisions == []
    surveys = _rows(
        sync_engine,
        "select r.id from survey_response r join conversation c on c.id = r.conversation_id "
        "where r.shop_id = :s and (c.status <> 'closed' or r.created_at < c.closed_at "
        "or r.customer_id <> c.customer_id)",
        s=s,
    )
    assert surveys == []
    # Messages lie inside their conversation.
    outside = _rows(
        sync_engine,
        "select m.id from message m join conversation c on c.id = m.conversation_id "
        "where c.shop_id = :s and (m.created_at < c.created_at or m.created_at > c.closed_at)",
        s=s,
    )
    assert outside == []


def _conversations(database_url, shop_id):  # type: ignore[no-untyped-def]
    async def work(session):  # type: ignore[no-untyped-def]
        rows = await session.execute(
            select(
                Conversation.customer_id,
                Conversation.created_at,
                Conversation.closed_at,
                Conversation.status,
                Conversation.channel,
                Conversation.queued_at,
                Conversation.accepted_at,
                Conversation.assignee_id,
            )
            .where(Conversation.shop_id == shop_id)
            .order_by(Conversation.customer_id, Conversation.created_at)
        )
        return rows.all()

    return in_database(database_url, work, commit=False)


def test_conversations_are_closed_within_the_two_weeks(shop, database_url, sync_engine):
    convs = _conversations(database_url, shop.shop_id)
    now = dt.datetime.now(dt.UTC)
    earliest = now - dt.timedelta(days=DAYS + 1)
    for c in convs:
        assert c.status == "closed"
        assert earliest < c.created_at <= c.closed_at < now
        if c.accepted_at is not None:
            assert c.queued_at is not None
            assert c.assignee_id is not None
            assert c.queued_at <= c.accepted_at
    assert {c.channel for c in convs} == {"webchat", "email", "phone"}
    rated = _rows(
        sync_engine, "select count(*) from survey_response where shop_id = :s", s=shop.shop_id
    )
    assert 0.45 < rated[0][0] / len(convs) < 0.75


def test_mostly_business_hours_and_some_comebacks(shop, database_url):
    rows = _conversations(database_url, shop.shop_id)
    local_hours = [r.created_at.astimezone(TZ).hour for r in rows]
    assert sum(h >= 8 for h in local_hours) / len(rows) > 0.8
    comebacks = sum(
        1
        for a, b in itertools.pairwise(rows)
        if a.customer_id == b.customer_id
        and dt.timedelta(0) <= b.created_at - a.closed_at <= dt.timedelta(hours=24)
    )
    assert 3 <= comebacks <= 15


def test_services_audited_the_ab_test_and_proposals_at_their_backdated_times(shop, database_url):
    async def work(session):  # type: ignore[no-untyped-def]
        started = await session.scalar(
            select(ScriptAbTest.created_at).where(ScriptAbTest.shop_id == shop.shop_id)
        )
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.created_at).where(
                AuditEntry.shop_id == shop.shop_id,
                AuditEntry.action.in_(("ab_test.started", "script.published", "script.proposed")),
            )
        )
        return started, rows.all()

    started, audit_rows = in_database(database_url, work, commit=False)
    at = {r.action: r.created_at for r in audit_rows}
    assert at["ab_test.started"] == started
    assert at["script.published"] < started
    assert [r.action for r in audit_rows].count("script.proposed") >= 3
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    assert all(r.created_at < dt.datetime.now(dt.UTC) for r in audit_rows)
    assert started < week_ago
