"""The scripts API: staff read, admins/supervisors write, answers are validated, and every change
lands in the audit log with before and after."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.web.login import login_as

NEW_SCRIPT = {
    "title": "羊绒大衣起球怎么办",
    "category": "咨询/商品",
    "answer": "亲，羊绒起球属于正常现象~ 您的订单 {order_no} 支持 7 天无理由哦",
    "questions": ["大衣起球了怎么办", "羊绒衣服起毛球正常吗", "  ", "大衣起球了怎么办"],
}


def as_role(app_client, demo_shop, role):
    return login_as(app_client, demo_shop, role)


def audit_rows(sync_engine, shop_id, entity_id):
    with sync_engine.connect() as conn:
        rows = conn.execute(
            text(
                "select action, actor_name, before, after from audit_entry "
                "where shop_id = :s and entity_type = 'script' and entity_id = :e order by id"
            ),
            {"s": shop_id, "e": str(entity_id)},
        ).all()
    return [
        (
            r.action,
            r.actor_name,
            json.loads(r.before) if isinstance(r.before, str) else r.before,
            json.loads(r.after) if isinstance(r.after, str) else r.after,
        )
        for r in rows
    ]


def test_supervisor_creates_edits_publishes_and_deletes_with_audit_trail(
    app_client, demo_shop, sync_engine
):
    csrf = as_role(app_client, demo_shop, "supervisor")
    h = {"X-CSRF-Token": csrf}
    created = app_client.post("/api/v1/scripts", json=NEW_SCRIPT, headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    assert body["questions"] == ["大衣起球了怎么办", "羊绒衣服起毛球正常吗"]
    assert body["variables"] == ["order_no"]
    sid = body["id"]

    updated = app_client.patch(
        f"/api/v1/scripts/{sid}",
        json={"title": "大衣起球", "questions": ["大衣起球了怎么办", "毛衣起球咋处理"]},
        headers=h,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["questions"] == ["大衣起球了怎么办", "毛衣起球咋处理"]
    assert app_client.post(f"/api/v1/scripts/{sid}/publish", headers=h).json()["status"] == (
        "published"
    )
    assert app_client.post(f"/api/v1/scripts/{sid}/unpublish", headers=h).json()["status"] == (
        "draft"
    )
    assert app_client.delete(f"/api/v1/scripts/{sid}", headers=h).status_code == 204
    assert app_client.get(f"/api/v1/scripts/{sid}").status_code == 404

    trail = audit_rows(sync_engine, demo_shop.shop_id, sid)
    assert [a for a, *_ in trail] == [
        "script.created",
        "script.updated",
        "script.published",
        "script.unpublished",
        "script.deleted",
    ]
    assert all(actor == demo_shop.login("supervisor").username for _, actor, _, _ in trail)
    _, _, before, after = trail[1]
    assert before == {
        "title": "羊绒大衣起球怎么办",
        "questions": ["大衣起球了怎么办", "羊绒衣服起毛球正常吗"],
    }
    assert after == {"title": "大衣起球", "questions": ["大衣起球了怎么办", "毛衣起球咋处理"]}
    assert trail[2][2] == {"status": "draft", "published_version": None}
    assert trail[2][3] == {"status": "published", "published_version": 1}


def test_answer_with_unknown_variable_is_rejected(app_client, demo_shop):
    h = {"X-CSRF-Token": as_role(app_client, demo_shop, "admin")}
    bad = dict(NEW_SCRIPT, answer="您的快递 {tracking_number} 已发出")
    response = app_client.post("/api/v1/scripts", json=bad, headers=h)
    assert response.status_code == 422
    assert response.json()["error"] == "unknown_variable"
    assert "{tracking_number}" in response.json()["message"]

    sid = app_client.post("/api/v1/scripts", json=NEW_SCRIPT, headers=h).json()["id"]
    patch = app_client.patch(
        f"/api/v1/scripts/{sid}", json={"answer": "{coupon_code} 送给您"}, headers=h
    )
    assert patch.status_code == 422
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["answer"] == NEW_SCRIPT["answer"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"title": "", "answer": "x", "questions": ["a"]}, "title"),
        ({"title": "t", "answer": "x", "questions": []}, "questions"),
        ({"title": "t", "answer": "x", "questions": ["   "]}, "question"),
        ({"title": "t", "answer": "   ", "questions": ["a"]}, "answer"),
        ({"title": "t", "answer": "x", "questions": ["a"], "owner": 1}, "owner"),
    ],
)
def test_invalid_script_input_is_a_clear_422(app_client, demo_shop, payload, fragment):
    h = {"X-CSRF-Token": as_role(app_client, demo_shop, "admin")}
    response = app_client.post("/api/v1/scripts", json=payload, headers=h)
    assert response.status_code == 422
    assert fragment in response.json()["message"]


def test_agent_reads_and_drafts_but_cannot_publish_withdraw_or_delete(app_client, demo_shop):
    h = {"X-CSRF-Token": as_role(app_client, demo_shop, "agent")}
    page = app_client.get("/api/v1/scripts", params={"limit": 200})
    assert page.status_code == 200
    assert page.json()["total"] >= 60
    sid = page.json()["items"][0]["id"]
    assert app_client.get(f"/api/v1/scripts/{sid}").status_code == 200
    assert app_client.post(f"/api/v1/scripts/{sid}/unpublish", headers=h).status_code == 403
    assert app_client.delete(f"/api/v1/scripts/{sid}", headers=h).status_code == 403
    publish_now = dict(NEW_SCRIPT, publish=True)
    assert app_client.post("/api/v1/scripts", json=publish_now, headers=h).status_code == 403
    draft = app_client.post("/api/v1/scripts", json=NEW_SCRIPT, headers=h)
    assert draft.status_code == 201
    assert draft.json()["status"] == "draft"
    publish = app_client.post(f"/api/v1/scripts/{draft.json()['id']}/publish", headers=h)
    assert publish.status_code == 403


def test_search_matches_question_variants_and_status_filter(app_client, demo_shop):
    as_role(app_client, demo_shop, "agent")
    found = app_client.get("/api/v1/scripts", params={"q": "170 130斤"}).json()
    assert [s["title"] for s in found["items"]] == ["尺码推荐"]
    drafts = app_client.get("/api/v1/scripts", params={"status": "draft"}).json()
    assert drafts["total"] == 0
    variables = app_client.get("/api/v1/scripts/variables").json()
    carrier = next(v for v in variables if v["name"] == "carrier")
    assert (carrier["label"], carrier["type"], carrier["source"]) == ("快递公司", "text", "order")
    assert next(v for v in variables if v["name"] == "amount")["type"] == "money"


def test_scripts_of_another_shop_are_not_found(app_client, demo_shop, database_url):
    from tests.conftest import run_async
    from xiaoer.db import make_engine, make_sessionmaker, transaction
    from xiaoer.demo.seed import seed_demo_shop

    async def other():
        engine = make_engine(database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                shop = await seed_demo_shop(
                    session,
                    slug=demo_shop.slug + "-other",
                    username_prefix=demo_shop.slug + "o-",
                    history=False,
                )
                from xiaoer.knowledge.library import list_published

                return (await list_published(session, shop_id=shop.shop_id))[0].id
        finally:
            await engine.dispose()

    foreign = run_async(other())
    h = {"X-CSRF-Token": as_role(app_client, demo_shop, "admin")}
    assert app_client.get(f"/api/v1/scripts/{foreign}").status_code == 404
    assert app_client.post(f"/api/v1/scripts/{foreign}/unpublish", headers=h).status_code == 404
    assert (
        app_client.patch(f"/api/v1/scripts/{foreign}", json={"title": "x"}, headers=h).status_code
        == 404
    )


def test_writes_need_login_and_csrf(app_client, demo_shop):
    assert app_client.get("/api/v1/scripts").status_code == 401
    as_role(app_client, demo_shop, "admin")
    response = app_client.post("/api/v1/scripts", json=NEW_SCRIPT)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf"


def test_bot_enabled_flag_is_created_read_kept_and_changed_with_audit(
    app_client, demo_shop, sync_engine
):
    h = {"X-CSRF-Token": as_role(app_client, demo_shop, "supervisor")}
    default = app_client.post("/api/v1/scripts", json=NEW_SCRIPT, headers=h)
    assert default.json()["bot_enabled"] is True
    created = app_client.post(
        "/api/v1/scripts", json=dict(NEW_SCRIPT, bot_enabled=False, publish=True), headers=h
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["bot_enabled"] is False
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["bot_enabled"] is False
    listed = app_client.get("/api/v1/scripts", params={"q": NEW_SCRIPT["title"]}).json()
    assert {s["id"]: s["bot_enabled"] for s in listed["items"]}[sid] is False

    # Left out of an update: unchanged (the published script stays published).
    kept = app_client.patch(f"/api/v1/scripts/{sid}", json={"category": "咨询/商品"}, headers=h)
    assert kept.status_code == 200
    assert (kept.json()["bot_enabled"], kept.json()["status"]) == (False, "published")
    # A change is a content change: the published script becomes a draft.
    on = app_client.patch(f"/api/v1/scripts/{sid}", json={"bot_enabled": True}, headers=h)
    assert (on.json()["bot_enabled"], on.json()["status"]) == (True, "draft")
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["bot_enabled"] is True
    bad = app_client.patch(f"/api/v1/scripts/{sid}", json={"bot_enabled": "maybe"}, headers=h)
    assert bad.status_code == 422
    assert "bot_enabled" in bad.json()["message"]

    trail = audit_rows(sync_engine, demo_shop.shop_id, sid)
    updated = [(before, after) for action, _, before, after in trail if action == "script.updated"]
    assert updated == [
        (
            {"bot_enabled": False, "status": "published"},
            {"bot_enabled": True, "status": "draft"},
        )
    ]
