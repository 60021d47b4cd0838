"""Per-script and per-variant statistics on a hand-built scenario (numbers worked out by hand in
the comments), coverage per local day, and the period rules."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.insights.builders import Builder, at
from xiaoer.audit.service import Actor
from xiaoer.conversations.models import SenderType
from xiaoer.errors import InvalidInput
from xiaoer.insights.coverage import coverage
from xiaoer.insights.period import Period, parse_period
from xiaoer.insights.stats import script_stats, sort_stats
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.models import ScriptEventKind as K

SHANGHAI = "Asia/Shanghai"
PERIOD = Period(first=dt.date(2026, 3, 1), last=dt.date(2026, 3, 5), tz=SHANGHAI)
T0 = at(2026, 3, 3, 2, 0)  # 10:00 in Shanghai on 3 March
MIN = dt.timedelta(minutes=1)


async def _script(session, shop_id, title="羊毛衫洗护"):
    return await knowledge.create_script(
        session,
        shop_id=shop_id,
        actor=Actor.system(shop_id),
        title=title,
        answer="亲，羊毛衫请手洗~",
        questions=["羊毛衫怎么洗", "毛衣能机洗吗"],
        answers={("im", "B"): "亲，建议冷水手洗，平铺晾干~"},
        publish=True,
    )


async def _scenario(session, shop_id):
    b = Builder(session, shop_id)
    script = await _script(session, shop_id)
    sid = script.id
    c = [await b.customer(f"顾客{i}") for i in range(6)]
    # conv1: the bot answered (A), closed 10 min later, no hand-off, customer never came back,
    # rated 5 -> resolved.
    conv1 = await b.conversation(c[0], created=T0 - MIN, closed=T0 + 10 * MIN)
    await b.event(sid, K.bot_answered, at=T0, conversation=conv1)
    await b.rating(conv1, 5)
    # conv2: the bot answered (A), then handed off 2 min later; rated 2 -> not resolved.
    conv2 = await b.conversation(c[1], created=T0 - MIN, closed=T0 + 20 * MIN, queued=T0 + 2 * MIN)
    await b.event(sid, K.bot_answered, at=T0, conversation=conv2)
    await b.event(sid, K.suggested, at=T0 + 3 * MIN, conversation=conv2)
    await b.rating(conv2, 2)
    # conv3: an agent (after the hand-off) sent B edited; the customer came back 2 h after the
    # closing; rated 4 -> not resolved.
    conv3 = await b.conversation(c[2], created=T0 - MIN, closed=T0 + 30 * MIN, queued=T0)
    await b.event(sid, K.sent, at=T0 + 5 * MIN, conversation=conv3, variant="B", edited=True)
    await b.conversation(c[2], created=T0 + 150 * MIN)
    await b.rating(conv3, 4)
    # conv4: suggested, inserted and sent unedited (A); came back 25 h after closing (outside
    # the 24 h window); no rating -> resolved.
    conv4 = await b.conversation(c[3], created=T0 - MIN, closed=T0 + 40 * MIN, queued=T0)
    await b.event(sid, K.suggested, at=T0 + MIN, conversation=conv4)
    await b.event(sid, K.inserted, at=T0 + MIN, conversation=conv4)
    await b.event(sid, K.sent, at=T0 + MIN, conversation=conv4, edited=False)
    await b.conversation(c[3], created=T0 + 40 * MIN + dt.timedelta(hours=25))
    # conv5: the bot answered (A), still open -> not resolved.
    conv5 = await b.conversation(c[4], created=T0 - MIN)
    await b.event(sid, K.bot_answered, at=T0, conversation=conv5)
    # conv6: before the period -> not counted anywhere.
    conv6 = await b.conversation(c[5], created=at(2026, 2, 20), closed=at(2026, 2, 20, 1))
    await b.event(sid, K.bot_answered, at=at(2026, 2, 20), conversation=conv6)
    await b.rating(conv6, 1)
    return sid


def test_script_and_variant_statistics_match_the_hand_computed_numbers(demo_shop, in_session):
    async def work(session):
        sid = await _scenario(session, demo_shop.shop_id)
        items = await script_stats(session, shop_id=demo_shop.shop_id, period=PERIOD)
        one = await script_stats(session, shop_id=demo_shop.shop_id, period=PERIOD, script_id=sid)
        return sid, items, one

    sid, items, one = in_session(work)
    mine = next(s for s in items if s.script_id == sid)
    assert one[0].as_dict() == mine.as_dict()
    u = mine.usage
    assert (u.suggested, u.inserted, u.sent, u.edited, u.bot_answered) == (2, 1, 2, 1, 3)
    assert u.edited_rate == 0.5
    o = u.outcomes
    # conversations 1-5; resolved: conv1 and conv4.
    assert (o.conversations, o.resolved, o.resolution_rate) == (5, 2, 0.4)
    # ratings 5, 2, 4 (conv6 is outside the period).
    assert (o.rated, o.rating_sum, o.satisfied) == (3, 11, 2)
    assert o.csat_mean == pytest.approx(11 / 3)
    assert o.satisfied_share == pytest.approx(2 / 3)

    variants = {(v.channel, v.variant): v.usage for v in mine.variants}
    assert set(variants) == {("im", "A"), ("im", "B")}
    a, b = variants["im", "A"], variants["im", "B"]
    assert (a.suggested, a.inserted, a.sent, a.edited, a.bot_answered) == (2, 1, 1, 0, 3)
    assert a.edited_rate == 0.0
    assert (a.outcomes.conversations, a.outcomes.resolved) == (4, 2)  # conv1,2,4,5
    assert (a.outcomes.rated, a.outcomes.csat_mean, a.outcomes.satisfied) == (2, 3.5, 1)
    assert (b.sent, b.edited, b.edited_rate, b.bot_answered) == (1, 1, 1.0, 0)
    assert (b.outcomes.conversations, b.outcomes.resolved, b.outcomes.csat_mean) == (1, 0, 4.0)

    # The seeded library is listed too, with zeros and no rates.
    unused = next(s for s in items if s.script_id != sid)
    assert unused.usage.bot_answered == 0
    assert unused.usage.outcomes.resolution_rate is None
    ranked = sort_stats(items, "resolution", descending=True)
    assert ranked[0].script_id == sid  # the only script with a resolution rate
    assert sort_stats(items, "bot_answered", descending=True)[0].script_id == sid


def test_a_period_without_the_events_counts_nothing(demo_shop, in_session):
    later = Period(first=dt.date(2026, 3, 4), last=dt.date(2026, 3, 5), tz=SHANGHAI)

    async def work(session):
        sid = await _scenario(session, demo_shop.shop_id)
        return (
            await script_stats(session, shop_id=demo_shop.shop_id, period=later, script_id=sid)
        )[0]

    stats = in_session(work)
    assert stats.usage.as_dict() == {
        "suggested": 0,
        "inserted": 0,
        "sent": 0,
        "edited": 0,
        "edited_rate": None,
        "bot_answered": 0,
        "conversations": 0,
        "resolved": 0,
        "resolution_rate": None,
        "rated": 0,
        "csat_mean": None,
        "satisfied": 0,
        "satisfied_share": None,
    }
    assert stats.variants == []


def test_coverage_per_local_day(demo_shop, in_session):
    period = Period(first=dt.date(2026, 3, 2), last=dt.date(2026, 3, 3), tz=SHANGHAI)

    async def work(session):
        b = Builder(session, demo_shop.shop_id)
        script = await _script(session, demo_shop.shop_id)
        conv = await b.conversation(await b.customer(), created=at(2026, 3, 1))
        msg = b.message
        # Before the period: 23:59 on 1 March in Shanghai.
        early = await msg(conv, "早", at=at(2026, 3, 1, 15, 59))
        await b.decision(early, script_id=script.id, confidence=0.9)
        # Day 1 (2 March, Shanghai): m1 answered, m2 (00:10 local = 1 March UTC) not,
        # m3 matched as a suggestion, m4 is the bot's own message, m5 a suggestion below the
        # threshold -> 4 customer messages, 2 covered.
        m1 = await msg(conv, "m1", at=at(2026, 3, 2, 3))
        await b.decision(m1, script_id=script.id, confidence=0.9)
        m2 = await msg(conv, "m2", at=at(2026, 3, 1, 16, 10))
        await b.decision(m2, confidence=0.1)
        m3 = await msg(conv, "m3", at=at(2026, 3, 2, 4))
        await b.event(script.id, K.suggested, at=at(2026, 3, 2, 4), message=m3, matched=True)
        await msg(conv, "m4", at=at(2026, 3, 2, 4), sender=SenderType.bot)
        m5 = await msg(conv, "m5", at=at(2026, 3, 2, 5))
        await b.event(script.id, K.suggested, at=at(2026, 3, 2, 5), message=m5, matched=False)
        # Day 2: m6 answered, m7 (23:30 local) not, m8 answered and matched (counted once)
        # -> 3 messages, 2 covered.
        m6 = await msg(conv, "m6", at=at(2026, 3, 3, 1))
        await b.decision(m6, script_id=script.id, confidence=0.8)
        await msg(conv, "m7", at=at(2026, 3, 3, 15, 30))
        m8 = await msg(conv, "m8", at=at(2026, 3, 3, 2))
        await b.decision(m8, script_id=script.id, confidence=0.8)
        await b.event(script.id, K.suggested, at=at(2026, 3, 3, 2), message=m8, matched=True)
        # After the period: 00:00 on 4 March in Shanghai.
        await msg(conv, "late", at=at(2026, 3, 3, 16))
        return await coverage(session, shop_id=demo_shop.shop_id, period=period)

    report = in_session(work)
    assert [(d.day, d.messages, d.covered) for d in report.days] == [
        (dt.date(2026, 3, 2), 4, 2),
        (dt.date(2026, 3, 3), 3, 2),
    ]
    assert (report.messages, report.covered) == (7, 4)
    assert report.share == pytest.approx(4 / 7)
    assert report.days[0].share == 0.5


def test_coverage_of_other_shops_messages_is_not_counted(demo_shop, other_shop, in_session):
    period = Period(first=dt.date(2026, 3, 2), last=dt.date(2026, 3, 2), tz=SHANGHAI)

    async def work(session):
        b = Builder(session, other_shop.shop_id)
        conv = await b.conversation(await b.customer(), created=at(2026, 3, 2))
        await b.message(conv, "别家的问题", at=at(2026, 3, 2, 3))
        mine = await coverage(session, shop_id=demo_shop.shop_id, period=period)
        theirs = await coverage(session, shop_id=other_shop.shop_id, period=period)
        return mine.messages, theirs.messages

    assert in_session(work) == (0, 1)


def test_period_parsing():
    p = parse_period("2026-03-01", "2026-03-03", tz=SHANGHAI)
    assert p.start == at(2026, 2, 28, 16)
    assert p.end == at(2026, 3, 3, 16)
    assert len(p.days) == 3
    default = parse_period("", "2026-03-07", tz=SHANGHAI)
    assert (default.first, default.last) == (dt.date(2026, 3, 1), dt.date(2026, 3, 7))
    assert parse_period(None, None, tz="Not/AZone", default_days=1).tz == SHANGHAI
    for start, end in (
        ("2026-03-05", "2026-03-01"),
        ("yesterday", ""),
        ("2024-01-01", "2026-01-01"),
    ):
        with pytest.raises(InvalidInput):
            parse_period(start, end, tz=SHANGHAI)
