"""The feedback loop: unanswered questions grouped by similarity, attached / turned into a script /
dismissed; agents' proposals accepted or rejected. Through the JSON API, with role and shop
checks and the audit trail."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import text

from tests.conftest import in_database
from tests.insights.builders import Builder
from tests.web.login import login
from xiaoer import clock
from xiaoer.insights.clusters import Question, cluster_questions
from xiaoer.knowledge.models import ProposalKind, Script, ScriptProposal

INVOICE = ["发票能开吗", "发票能开吗", "能不能开发票", "发票咋开"]
WEEKEND = ["周末发货吗", "周末发不发货"]


def as_role(client, shop, role):
    who = shop.login(role)
    return {"X-CSRF-Token": login(client, who.username, who.password)}


def window():
    today = clock.now().date()
    return {
        "start": (today - dt.timedelta(days=1)).isoformat(),
        "end": (today + dt.timedelta(days=1)).isoformat(),
    }


def audit_actions(sync_engine, shop_id, prefix):
    with sync_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select action, after from audit_entry where shop_id = :s and action like :p "
                "order by id"
            ),
            {"s": shop_id, "p": prefix + "%"},
        ).all()
    return [(r.action, json.loads(r.after) if isinstance(r.after, str) else r.after) for r in rows]


def _seed_unanswered(database_url, shop_id):
    async def work(session):
        b = Builder(session, shop_id)
        now = clock.now() - dt.timedelta(minutes=5)
        script_id = await session.scalar(
            Script.__table__.select().with_only_columns(Script.id).where(Script.shop_id == shop_id)
        )

        async def ask(body, **kw):
            conv = await b.conversation(await b.customer(), created=now)
            message = await b.message(conv, body, at=now)
            return await b.decision(message, **kw)

        ids = {"invoice": [], "weekend": [], "points": []}
        for q in INVOICE:
            ids["invoice"].append((await ask(q)).id)
        for q in WEEKEND:
            ids["weekend"].append((await ask(q)).id)
        # Below the threshold although a script was found: unanswered too.
        ids["points"].append((await ask("积分怎么用", script_id=script_id, confidence=0.01)).id)
        # Not unanswered: a request for a person, an already reviewed one, a confident answer.
        await ask("转人工", handoff_reason="customer_request", confidence=1.0)
        await ask("能开发票吗", reviewed=now)
        await ask("羊毛衫能机洗吗", script_id=script_id, confidence=0.99)
        return ids

    return in_database(database_url, work)


def test_grouping_keeps_paraphrases_together_and_different_questions_apart():
    texts = [
        *INVOICE,
        *WEEKEND,
        "我想退货",
        "怎么退货",
        "直播间抽奖怎么参加",
        "抽奖在哪里参加",
        "衣服洗了缩水了",
        "缩水了怎么办",
        "可以打折吗",
        "这个可以退吗",
    ]
    now = clock.now()
    questions = [Question(i + 1, i + 1, i + 1, t, now, 0.0) for i, t in enumerate(texts)]
    groups = {frozenset(t for t, _ in c.texts) for c in cluster_questions(questions)}
    assert frozenset({"发票能开吗", "能不能开发票", "发票咋开"}) in groups
    assert frozenset(WEEKEND) in groups
    assert frozenset({"我想退货", "怎么退货", "这个可以退吗"}) in groups
    assert frozenset({"直播间抽奖怎么参加", "抽奖在哪里参加"}) in groups
    assert frozenset({"衣服洗了缩水了", "缩水了怎么办"}) in groups
    assert frozenset({"可以打折吗"}) in groups
    biggest = cluster_questions(questions)[0]
    assert (biggest.representative, biggest.count) == ("发票能开吗", 4)


def test_unanswered_clusters_and_their_actions(
    app_client, demo_shop, other_shop, database_url, sync_engine
):
    ids = _seed_unanswered(database_url, demo_shop.shop_id)
    theirs = _seed_unanswered(database_url, other_shop.shop_id)
    h = as_role(app_client, demo_shop, "supervisor")

    listed = app_client.get("/api/v1/insights/unanswered", params=window())
    assert listed.status_code == 200, listed.text
    clusters = listed.json()["clusters"]
    assert [(c["count"], sorted(c["decision_ids"])) for c in clusters] == [
        (4, ids["invoice"]),
        (2, ids["weekend"]),
        (1, ids["points"]),
    ]
    assert listed.json()["questions"] == 7
    invoice = clusters[0]
    assert invoice["representative"] == "发票能开吗"
    assert invoice["texts"][0] == {"text": "发票能开吗", "count": 2}
    assert invoice["suggested_script"]["title"] == "开具发票"
    target = invoice["suggested_script"]["id"]

    # Coverage lists the same groups as its top unmatched questions.
    cov = app_client.get("/api/v1/insights/coverage", params={**window(), "top": 2}).json()
    assert [c["count"] for c in cov["top_unmatched"]] == [4, 2]

    # Attach and publish: the wordings become variants of the script, a new version serves.
    before = app_client.get(f"/api/v1/scripts/{target}").json()
    attached = app_client.post(
        "/api/v1/insights/unanswered/attach",
        json={"decision_ids": ids["invoice"], "script_id": target, "publish": True},
        headers=h,
    )
    assert attached.status_code == 200, attached.text
    after = app_client.get(f"/api/v1/scripts/{target}").json()
    assert attached.json()["added"] == ["发票能开吗", "能不能开发票", "发票咋开"]
    assert after["questions"] == [*before["questions"], *attached.json()["added"]]
    assert after["status"] == "published"
    assert after["published_version"] == before["published_version"] + 1

    created = app_client.post(
        "/api/v1/insights/unanswered/create",
        json={"decision_ids": ids["weekend"], "title": "周末发货", "answer": "亲，周末正常发货哦~"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    assert created.json()["questions"] == WEEKEND

    dismissed = app_client.post(
        "/api/v1/insights/unanswered/dismiss", json={"decision_ids": ids["points"]}, headers=h
    )
    assert dismissed.json() == {"dismissed": 1}
    assert app_client.get("/api/v1/insights/unanswered", params=window()).json()["clusters"] == []

    # Bad input and someone else's questions.
    again = app_client.post(
        "/api/v1/insights/unanswered/dismiss", json={"decision_ids": ids["points"]}, headers=h
    )
    assert again.status_code == 409
    assert again.json()["error"] == "already_reviewed"
    foreign = app_client.post(
        "/api/v1/insights/unanswered/dismiss", json={"decision_ids": theirs["points"]}, headers=h
    )
    assert foreign.status_code == 404
    assert (
        app_client.post(
            "/api/v1/insights/unanswered/dismiss", json={"decision_ids": []}, headers=h
        ).status_code
        == 422
    )
    no_answer = app_client.post(
        "/api/v1/insights/unanswered/create",
        json={"decision_ids": theirs["weekend"], "answer": "x"},
        headers=h,
    )
    assert no_answer.status_code == 404
    assert (
        app_client.post(
            "/api/v1/insights/unanswered/attach",
            json={"decision_ids": ids["points"], "script_id": 10**9},
            headers=h,
        ).status_code
        == 404
    )

    trail = audit_actions(sync_engine, demo_shop.shop_id, "unanswered.")
    assert [a for a, _ in trail] == [
        "unanswered.attached",
        "unanswered.script_created",
        "unanswered.dismissed",
    ]
    assert trail[0][1]["decision_ids"] == ids["invoice"]
    assert trail[0][1]["published"] is True

    # The other shop's questions are untouched.
    assert app_client.post("/logout", headers=h, follow_redirects=False).status_code == 303
    as_role(app_client, other_shop, "admin")
    assert (
        len(app_client.get("/api/v1/insights/unanswered", params=window()).json()["clusters"]) == 3
    )


def test_agents_may_not_use_insights(app_client, demo_shop):
    h = as_role(app_client, demo_shop, "agent")
    for path in (
        "/api/v1/insights/scripts",
        "/api/v1/insights/coverage",
        "/api/v1/insights/unanswered",
        "/api/v1/insights/ab-tests",
        "/api/v1/script-proposals",
    ):
        assert app_client.get(path).status_code == 403, path
    denied = app_client.post(
        "/api/v1/insights/unanswered/dismiss", json={"decision_ids": [1]}, headers=h
    )
    assert denied.status_code == 403


def _seed_proposals(database_url, shop):
    async def work(session):
        script = (
            await session.scalars(
                Script.__table__.select()
                .with_only_columns(Script.id)
                .where(Script.shop_id == shop.shop_id)
                .order_by(Script.id)
            )
        ).first()
        agent_id = None
        rows = [
            ScriptProposal(
                shop_id=shop.shop_id,
                kind=ProposalKind.new_variant,
                script_id=script,
                question="这件毛衣会起球吗",
                proposed_by_id=agent_id,
            ),
            ScriptProposal(
                shop_id=shop.shop_id,
                kind=ProposalKind.new_script,
                question="可以寄到香港吗",
                title="港澳台配送",
                answer="亲，目前支持寄往香港，运费到付哦~",
            ),
            ScriptProposal(shop_id=shop.shop_id, kind=ProposalKind.new_script, question="有礼盒吗"),
        ]
        session.add_all(rows)
        await session.flush()
        return script, [r.id for r in rows]

    return in_database(database_url, work)


def test_proposals_are_accepted_or_rejected(
    app_client, demo_shop, other_shop, database_url, sync_engine
):
    script_id, (variant_id, new_id, bare_id) = _seed_proposals(database_url, demo_shop)
    _, (foreign_id, *_) = _seed_proposals(database_url, other_shop)
    h = as_role(app_client, demo_shop, "supervisor")

    open_ = app_client.get("/api/v1/script-proposals").json()
    assert [p["id"] for p in open_["items"]] == [variant_id, new_id, bare_id]
    assert open_["items"][0]["script_id"] == script_id
    assert open_["items"][0]["script_title"]

    before = app_client.get(f"/api/v1/scripts/{script_id}").json()
    accepted = app_client.post(
        f"/api/v1/script-proposals/{variant_id}/accept", json={"publish": True}, headers=h
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["script_status"] == "published"
    after = app_client.get(f"/api/v1/scripts/{script_id}").json()
    assert after["questions"] == [*before["questions"], "这件毛衣会起球吗"]
    assert after["published_version"] == before["published_version"] + 1

    made = app_client.post(f"/api/v1/script-proposals/{new_id}/accept", json={}, headers=h)
    assert made.status_code == 200, made.text
    new_script = app_client.get(f"/api/v1/scripts/{made.json()['script_id']}").json()
    assert (new_script["title"], new_script["status"], new_script["questions"]) == (
        "港澳台配送",
        "draft",
        ["可以寄到香港吗"],
    )

    # A new script needs an answer; the proposal stays open when it has none.
    no_answer = app_client.post(f"/api/v1/script-proposals/{bare_id}/accept", json={}, headers=h)
    assert no_answer.status_code == 422
    assert no_answer.json()["error"] == "answer_required"
    rejected = app_client.post(
        f"/api/v1/script-proposals/{bare_id}/reject", json={"reason": "已有同类话术"}, headers=h
    )
    assert rejected.json()["status"] == "rejected"

    twice = app_client.post(f"/api/v1/script-proposals/{new_id}/accept", json={}, headers=h)
    assert twice.status_code == 409
    assert (
        app_client.post(
            f"/api/v1/script-proposals/{foreign_id}/accept", json={}, headers=h
        ).status_code
        == 404
    )
    assert app_client.get(f"/api/v1/script-proposals/{foreign_id}").status_code == 404
    assert (
        app_client.post(
            f"/api/v1/script-proposals/{new_id}/reject", json={"reason": 5, "x": 1}, headers=h
        ).status_code
        == 422
    )
    assert app_client.get("/api/v1/script-proposals", params={"status": "nope"}).status_code == 422

    assert app_client.get("/api/v1/script-proposals").json()["items"] == []
    decided = app_client.get("/api/v1/script-proposals", params={"status": "all"}).json()
    assert {p["status"] for p in decided["items"]} == {"accepted", "rejected"}
    trail = audit_actions(sync_engine, demo_shop.shop_id, "script_proposal.")
    assert [a for a, _ in trail] == [
        "script_proposal.accepted",
        "script_proposal.accepted",
        "script_proposal.rejected",
    ]
    assert trail[2][1]["reason"] == "已有同类话术"
