"""A/B tests: start (the bot then serves wording B to its share of customers), the report's counts
and intervals on a hand-built scenario, picking B (a new published version, the bot retrains),
stopping, and the refusals."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from tests.conftest import in_database
from tests.insights.builders import Builder
from tests.web.login import login
from xiaoer import clock
from xiaoer.audit.service import Actor
from xiaoer.bot import service as bot
from xiaoer.bot.engine import BotRegistry
from xiaoer.knowledge import library
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.models import Script, ScriptAbTest
from xiaoer.knowledge.models import ScriptEventKind as K

QUESTIONS = ["直播间抽奖怎么参加", "抽奖活动在哪参加", "直播抽奖规则是啥", "怎么参与抽奖"]
ANSWER_A = "关注直播间即可参与抽奖"
ANSWER_B = "亲，点直播间右下角的「抽奖」按钮就能参与啦~"


def as_role(client, shop, role):
    who = shop.login(role)
    return {"X-CSRF-Token": login(client, who.username, who.password)}


def make_script(database_url, shop_id, *, b=True, title="直播抽奖"):
    async def work(session):
        script = await knowledge.create_script(
            session,
            shop_id=shop_id,
            actor=Actor.system(shop_id),
            title=title,
            answer=ANSWER_A,
            questions=QUESTIONS,
            answers={("im", "B"): ANSWER_B} if b else None,
            publish=True,
        )
        return script.id

    return in_database(database_url, work)


def served(database_url, shop_id, customers=range(1, 41)):
    """What the bot answers each customer (a fresh registry: it trains on what is served)."""

    async def work(session):
        registry = BotRegistry(None)
        out = []
        for customer_id in customers:
            decision = await bot.decide(
                session,
                registry=registry,
                shop_id=shop_id,
                text="抽奖怎么参加",
                customer_id=customer_id,
            )
            out.append((decision.variant, decision.answer))
        version = await library.library_version(session, shop_id=shop_id)
        return out, version

    return in_database(database_url, work, commit=False)


def script_row(database_url, script_id):
    async def work(session):
        s = await session.get(Script, script_id)
        return {
            "answer": s.answer,
            "answers": {(str(a.channel), a.variant): a.body for a in s.answers},
            "published_version": s.published_version,
            "status": str(s.status),
            "ab_split": s.ab_split,
        }

    return in_database(database_url, work, commit=False)


def seed_test_events(database_url, shop_id, script_id, test_id):
    """A: a1 resolved (5), a2 handed off after the answer (3), a3 resolved (no rating);
    B: b1 resolved (4), b2 resolved (4); plus a B use before the test started."""

    async def work(session):
        test = await session.get(ScriptAbTest, test_id)
        b = Builder(session, shop_id)
        now = clock.now()
        start = test.created_at

        async def conv(queued=None):
            return await b.conversation(
                await b.customer(), created=start, closed=now, queued=queued
            )

        a1, a2, a3 = await conv(), await conv(queued=now), await conv(queued=start)
        for c in (a1, a2):
            await b.event(script_id, K.bot_answered, at=now, conversation=c)
        await b.event(script_id, K.suggested, at=now, conversation=a3)
        await b.event(script_id, K.sent, at=now, conversation=a3, edited=False)
        await b.rating(a1, 5)
        await b.rating(a2, 3)
        b1, b2 = await conv(), await conv(queued=start)
        await b.event(script_id, K.bot_answered, at=now, conversation=b1, variant="B")
        await b.event(script_id, K.sent, at=now, conversation=b2, variant="B", edited=True)
        await b.rating(b1, 4)
        await b.rating(b2, 4)
        early = await conv()
        before = start - dt.timedelta(days=1)
        await b.event(script_id, K.bot_answered, at=before, conversation=early, variant="B")

    in_database(database_url, work)


def test_start_report_and_pick_b(app_client, demo_shop, database_url, sync_engine):
    shop_id = demo_shop.shop_id
    sid = make_script(database_url, shop_id)
    answers_before, version_before = served(database_url, shop_id)
    assert {v for v, _ in answers_before} == {"A"}
    h = as_role(app_client, demo_shop, "supervisor")

    candidates = app_client.get("/api/v1/insights/ab-tests").json()["testable_scripts"]
    assert {"id": sid, "title": "直播抽奖"} in candidates
    started = app_client.post(
        "/api/v1/insights/ab-tests", json={"script_id": sid, "split": 0.5}, headers=h
    )
    assert started.status_code == 201, started.text
    test_id = started.json()["id"]
    assert started.json()["running"] is True
    assert script_row(database_url, sid)["ab_split"] == 0.5

    during, version_during = served(database_url, shop_id)
    assert version_during != version_before
    assert {v for v, _ in during} == {"A", "B"}
    assert all(answer == (ANSWER_B if v == "B" else ANSWER_A) for v, answer in during)
    # Each customer keeps their variant.
    assert served(database_url, shop_id)[0] == during

    again = app_client.post(
        "/api/v1/insights/ab-tests", json={"script_id": sid, "split": 0.3}, headers=h
    )
    assert again.status_code == 409
    assert again.json()["error"] == "test_running"

    seed_test_events(database_url, shop_id, sid, test_id)
    report = app_client.get(f"/api/v1/insights/ab-tests/{test_id}").json()
    a, b = report["variants"]["A"], report["variants"]["B"]
    assert (a["conversations"], a["uses"], a["resolved"], a["rated"]) == (3, 3, 2, 2)
    assert (b["conversations"], b["uses"], b["resolved"], b["rated"]) == (2, 2, 2, 2)
    assert (a["suggested"], b["edited"]) == (1, 1)
    # Wilson 95%: 2/3 -> 0.2077-0.9385, 2/2 -> 0.3424-1 (published values).
    assert [round(a["resolution_ci"][k], 4) for k in ("low", "high")] == [0.2077, 0.9385]
    assert [round(b["resolution_ci"][k], 4) for k in ("low", "high")] == [0.3424, 1.0]
    # CSAT A: 5 and 3 -> mean 4, sd sqrt(2), t(1) = 12.706 -> 4 ± 12.706.
    assert a["csat_mean"] == 4.0
    assert a["csat_ci"]["low"] == pytest.approx(4 - 12.7062, abs=1e-3)
    assert b["csat_ci"] == {"estimate": 4.0, "low": 4.0, "high": 4.0}
    diff = report["resolution_difference"]
    assert diff["estimate"] == pytest.approx(1 / 3)
    assert diff["significant"] is False
    assert diff["low"] < 0 < diff["high"]
    assert report["csat_difference"]["estimate"] == 0.0

    picked = app_client.post(
        f"/api/v1/insights/ab-tests/{test_id}/winner", json={"variant": "B"}, headers=h
    )
    assert picked.status_code == 200, picked.text
    assert (picked.json()["winner"], picked.json()["running"]) == ("B", False)
    row = script_row(database_url, sid)
    assert row["answer"] == ANSWER_B
    assert row["answers"] == {}
    assert (row["published_version"], row["status"], row["ab_split"]) == (2, "published", None)
    after, version_after = served(database_url, shop_id)
    assert version_after not in (version_before, version_during)
    assert set(after) == {("A", ANSWER_B)}

    ended = app_client.post(
        f"/api/v1/insights/ab-tests/{test_id}/winner", json={"variant": "A"}, headers=h
    )
    assert ended.status_code == 409
    assert ended.json()["error"] == "test_ended"
    # The finished test's report still covers its own period only.
    final = app_client.get(f"/api/v1/insights/ab-tests/{test_id}").json()
    assert final["variants"]["B"]["conversations"] == 2

    with sync_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select action, entity_type, after from audit_entry where shop_id = :s and "
                "(entity_type = 'script_ab_test' or (entity_type = 'script' and entity_id = :e)) "
                "order by id"
            ),
            {"s": shop_id, "e": str(sid)},
        ).all()
    actions = [r.action for r in rows]
    assert actions == [
        "script.created",
        "script.published",
        "ab_test.started",
        "script.updated",
        "script.published",
        "ab_test.winner_picked",
    ]
    last = rows[-1].after
    assert (json.loads(last) if isinstance(last, str) else last)["winner"] == "B"


def test_stop_and_refusals(app_client, demo_shop, other_shop, database_url):
    shop_id = demo_shop.shop_id
    sid = make_script(database_url, shop_id)
    plain = make_script(database_url, shop_id, b=False, title="没有B版本")
    foreign = make_script(database_url, other_shop.shop_id)
    h = as_role(app_client, demo_shop, "admin")

    def start(body):
        return app_client.post("/api/v1/insights/ab-tests", json=body, headers=h)

    assert start({"script_id": plain}).json()["error"] == "no_b_wording"
    assert start({"script_id": foreign}).status_code == 404
    assert start({"script_id": sid, "split": 1.5}).status_code == 422
    assert start({"script_id": sid, "split": "half"}).status_code == 422
    assert start({"script_id": sid, "extra": 1}).status_code == 422
    test_id = start({"script_id": sid, "split": 0.2}).json()["id"]

    # B cannot win while the script has an unpublished draft.
    async def edit(session):
        script = await session.get(Script, sid)
        await knowledge.update_script(
            session, script=script, actor=Actor.system(shop_id), title="直播抽奖（草稿）"
        )

    in_database(database_url, edit)
    refused = app_client.post(
        f"/api/v1/insights/ab-tests/{test_id}/winner", json={"variant": "B"}, headers=h
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "script_has_draft"
    assert script_row(database_url, sid)["ab_split"] == 0.2
    bad = app_client.post(
        f"/api/v1/insights/ab-tests/{test_id}/winner", json={"variant": "C"}, headers=h
    )
    assert bad.status_code == 422

    stopped = app_client.post(f"/api/v1/insights/ab-tests/{test_id}/stop", headers=h)
    assert stopped.status_code == 200
    assert (stopped.json()["winner"], stopped.json()["running"]) == (None, False)
    assert script_row(database_url, sid)["ab_split"] is None
    assert (
        app_client.post(f"/api/v1/insights/ab-tests/{test_id}/stop", headers=h).status_code == 409
    )

    async def foreign_test(session):
        script = await session.get(Script, foreign)
        session.add(ScriptAbTest(shop_id=other_shop.shop_id, script_id=script.id, split=0.5))
        await session.flush()
        return await session.scalar(
            select(ScriptAbTest.id).where(ScriptAbTest.script_id == foreign)
        )

    other_test = in_database(database_url, foreign_test)
    assert app_client.get(f"/api/v1/insights/ab-tests/{other_test}").status_code == 404
    assert (
        app_client.post(f"/api/v1/insights/ab-tests/{other_test}/stop", headers=h).status_code
        == 404
    )
    listed = app_client.get("/api/v1/insights/ab-tests").json()["items"]
    assert [t["id"] for t in listed] == [test_id]
