"""The script editor's API (issue 3 §1-3): channel wordings and triggers, lint and structure on
save, publishing refused on blocking findings, the review lifecycle with roles, versions with
diff and rollback, the preview with a demo order, and the shop's lint rule configuration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.knowledge.test_scripts_api import as_role, audit_rows
from xiaoer.audit.models import AuditEntry
from xiaoer.commerce import service as commerce

COMPLAINT = {
    "title": "快递破损投诉",
    "category": "投诉/物流",
    "answer": "非常抱歉给您带来不好的体验，为您补发并补偿10元优惠券，我会在今天18点前联系您跟进。",
    "questions": ["快递破了", "收到的东西坏了"],
    "answers": [
        {
            "channel": "phone",
            "variant": "A",
            "body": "您好，这里是店小二。第一步核实订单 {order_no}",
        },
        {"channel": "email", "variant": "A", "body": "尊敬的{customer_name}：……此致"},
        {
            "channel": "im",
            "variant": "B",
            "body": "抱歉！为您补发，明早联系您 🙏 补偿5元红包",
        },
    ],
    "triggers": {"keywords": "破损, 坏了", "customer_tags": ["VIP"], "emotions": ["anger"]},
}


def h(app_client, demo_shop, role):
    """Logs the client in as `role` (logging out whoever was logged in); the CSRF header."""
    app_client.cookies.clear()
    return {"X-CSRF-Token": as_role(app_client, demo_shop, role)}


def create(app_client, headers, payload=None):
    response = app_client.post("/api/v1/scripts", json=payload or COMPLAINT, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def check_of(body, channel, variant="A"):
    return next(c for c in body["checks"] if (c["channel"], c["variant"]) == (channel, variant))


def test_wordings_triggers_structure_and_lint_come_back_from_save(app_client, demo_shop):
    body = create(app_client, h(app_client, demo_shop, "supervisor"))
    assert body["kind"] == "complaint"
    assert body["triggers"] == {
        "keywords": ["破损", "坏了"],
        "customer_tags": ["VIP"],
        "emotions": ["anger"],
    }
    assert {(a["channel"], a["variant"]) for a in body["answers"]} == {
        ("phone", "A"),
        ("email", "A"),
        ("im", "B"),
    }
    assert body["variables"] == ["order_no", "customer_name"]
    main = check_of(body, "im")
    assert [p["part"] for p in main["structure"] if p["present"]] == [
        "acknowledgement",
        "compensation",
        "next_step",
    ]
    assert main["findings"] == []
    assert not main["blocked"]
    phone = check_of(body, "phone")
    # A complaint wording without remedy or next step: two blocking "missing" findings at (0, 0).
    assert {(f["rule"], f["start"], f["end"]) for f in phone["findings"]} == {
        ("complaint_missing_remedy", 0, 0),
        ("complaint_missing_next_step", 0, 0),
    }
    assert {p["part"]: p["present"] for p in phone["structure"]}["compensation"] is False
    assert phone["blocked"]
    assert body["blocked"]


def test_draft_with_blocking_finding_saves_but_does_not_publish(app_client, demo_shop, sync_engine):
    headers = h(app_client, demo_shop, "supervisor")
    payload = {
        "title": "价格咨询",
        "category": "咨询/活动",
        "answer": "亲，我们是全网最低价哦，您可以直接下单",
        "questions": ["能便宜点吗"],
    }
    body = create(app_client, headers, payload)
    assert body["status"] == "draft"
    assert body["blocked"]
    finding = check_of(body, "im")["findings"][0]
    assert finding["rule"] == "misleading_claim"
    assert payload["answer"][finding["start"] : finding["end"]] == "全网最低价"
    assert finding["suggestion"]

    refused = app_client.post(f"/api/v1/scripts/{body['id']}/publish", headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == "lint_blocked"
    assert "全网最低价" in refused.json()["message"]
    assert refused.json()["checks"][0]["findings"][0]["rule"] == "misleading_claim"
    assert app_client.get(f"/api/v1/scripts/{body['id']}").json()["status"] == "draft"
    assert [a for a, *_ in audit_rows(sync_engine, demo_shop.shop_id, body["id"])] == [
        "script.created"
    ]
    # publish on create is refused the same way, and leaves a draft.
    again = app_client.post("/api/v1/scripts", json=dict(payload, publish=True), headers=headers)
    assert again.status_code == 422
    assert again.json()["error"] == "lint_blocked"

    fixed = app_client.patch(
        f"/api/v1/scripts/{body['id']}",
        json={"answer": "亲，活动期间到手价 199 元，您可以直接下单"},
        headers=headers,
    )
    assert not fixed.json()["blocked"]
    published = app_client.post(
        f"/api/v1/scripts/{body['id']}/publish", json={"note": "首发"}, headers=headers
    )
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["published_version"] == 1


def test_agent_drafts_and_submits_supervisor_returns_and_publishes(
    app_client, demo_shop, sync_engine
):
    agent = h(app_client, demo_shop, "agent")
    sid = create(app_client, agent)["id"]
    assert app_client.post(f"/api/v1/scripts/{sid}/return", headers=agent).status_code == 403
    submitted = app_client.post(f"/api/v1/scripts/{sid}/submit", headers=agent)
    assert submitted.json()["status"] == "review"
    again = app_client.post(f"/api/v1/scripts/{sid}/submit", headers=agent)
    assert again.status_code == 409
    queue = app_client.get("/api/v1/scripts", params={"status": "review"}).json()
    assert [s["id"] for s in queue["items"]] == [sid]

    supervisor = h(app_client, demo_shop, "supervisor")
    returned = app_client.post(f"/api/v1/scripts/{sid}/return", headers=supervisor)
    assert returned.json()["status"] == "draft"
    assert app_client.post(f"/api/v1/scripts/{sid}/return", headers=supervisor).status_code == 409
    # The complaint's phone wording lacks remedy and next step: fix it, then publish.
    fixed = app_client.patch(
        f"/api/v1/scripts/{sid}",
        json={
            "answers": [
                {"channel": "phone", "variant": "A", "body": "抱歉，为您补发，今天18点前联系您"},
                {"channel": "email", "variant": "A", "body": None},
            ]
        },
        headers=supervisor,
    ).json()
    assert {(a["channel"], a["variant"]) for a in fixed["answers"]} == {("phone", "A"), ("im", "B")}
    assert app_client.post(f"/api/v1/scripts/{sid}/publish", headers=supervisor).status_code == 200

    trail = audit_rows(sync_engine, demo_shop.shop_id, sid)
    assert [a for a, *_ in trail] == [
        "script.created",
        "script.submitted",
        "script.rejected",
        "script.updated",
        "script.published",
    ]
    assert trail[1][1] == demo_shop.login("agent").username
    assert trail[1][2] == {"status": "draft"}
    assert trail[1][3] == {"status": "review"}


def test_versions_diff_and_rollback(app_client, demo_shop, sync_engine):
    supervisor = h(app_client, demo_shop, "supervisor")
    payload = {
        "title": "发票",
        "category": "咨询/发票",
        "answer": "亲，支持开具电子发票，您可以在订单页申请",
        "questions": ["能开发票吗"],
        "publish": True,
    }
    sid = create(app_client, supervisor, payload)["id"]
    edited = app_client.patch(
        f"/api/v1/scripts/{sid}",
        json={"answer": "亲，支持开具电子和纸质发票，您可以在订单页申请"},
        headers=supervisor,
    ).json()
    # Editing a published script makes a draft; version 1 keeps serving.
    assert (edited["status"], edited["published_version"]) == ("draft", 1)
    working = app_client.get(f"/api/v1/scripts/{sid}/diff", params={"old": 1}).json()
    assert working["new"] is None
    [field] = working["fields"]
    assert field["field"] == "answer"
    assert {"op": "-", "text": payload["answer"]} in field["lines"]
    assert {"op": "+", "text": edited["answer"]} in field["lines"]

    app_client.post(f"/api/v1/scripts/{sid}/publish", json={"note": "加纸质"}, headers=supervisor)
    history = app_client.get(f"/api/v1/scripts/{sid}/versions").json()
    assert [(v["version"], v["serving"], v["note"]) for v in history] == [
        (2, True, "加纸质"),
        (1, False, ""),
    ]
    assert demo_shop.login("supervisor").username in history[0]["published_by"]
    v1 = app_client.get(f"/api/v1/scripts/{sid}/versions/1").json()
    assert v1["content"]["answer"] == payload["answer"]
    between = app_client.get(f"/api/v1/scripts/{sid}/diff", params={"old": 1, "new": 2}).json()
    assert [f["field"] for f in between["fields"]] == ["answer"]

    agent = h(app_client, demo_shop, "agent")
    denied = app_client.post(f"/api/v1/scripts/{sid}/rollback", json={"version": 1}, headers=agent)
    assert denied.status_code == 403
    supervisor = h(app_client, demo_shop, "supervisor")
    rolled = app_client.post(
        f"/api/v1/scripts/{sid}/rollback", json={"version": 1}, headers=supervisor
    ).json()
    assert (rolled["status"], rolled["published_version"]) == ("published", 3)
    assert rolled["answer"] == payload["answer"]
    history = app_client.get(f"/api/v1/scripts/{sid}/versions").json()
    assert history[0]["note"] == "rollback to v1"
    missing = app_client.post(
        f"/api/v1/scripts/{sid}/rollback", json={"version": 9}, headers=supervisor
    )
    assert missing.status_code == 404
    assert app_client.get(f"/api/v1/scripts/{sid}/diff", params={"old": 7}).status_code == 404
    assert app_client.get(f"/api/v1/scripts/{sid}/diff").status_code == 422
    actions = [a for a, *_ in audit_rows(sync_engine, demo_shop.shop_id, sid)]
    assert actions[-2:] == ["script.updated", "script.published"]
    assert actions.count("script.published") == 3


def test_preview_fills_a_demo_order(app_client, demo_shop, in_session):
    order_no = demo_shop.sample_order_nos["in_transit"]

    async def expected(session):
        order = await commerce.find_order(session, shop_id=demo_shop.shop_id, order_no=order_no)
        shipment = commerce.latest_shipment(order)
        return shipment.carrier, shipment.tracking_no

    carrier, tracking = in_session(expected)
    headers = h(app_client, demo_shop, "agent")
    template = "亲，订单 {order_no} 由 {carrier} 配送，运单号 {tracking_no}，预计 {eta} 送达"
    filled = app_client.post(
        "/api/v1/scripts/preview",
        json={"answer": template, "order_no": order_no, "channel": "im"},
        headers=headers,
    ).json()
    assert filled["order_no"] == order_no
    assert f"由 {carrier} 配送，运单号 {tracking}" in filled["text"]
    assert "{" not in filled["text"]
    assert filled["missing"] == []

    bare = app_client.post("/api/v1/scripts/preview", json={"answer": template}, headers=headers)
    assert "【快递公司】" in bare.json()["text"]
    assert bare.json()["missing"] == ["order_no", "carrier", "tracking_no", "eta"]

    orders = app_client.get("/api/v1/scripts/orders").json()
    assert len(orders) == 20
    shipped = next(o for o in orders if o["carrier"])
    picked = app_client.post(
        "/api/v1/scripts/preview",
        json={"answer": "{carrier} {tracking_no}", "order_no": shipped["order_no"]},
        headers=headers,
    )
    assert picked.json()["text"] == f"{shipped['carrier']} {shipped['tracking_no']}"

    sid = create(app_client, h(app_client, demo_shop, "supervisor"))["id"]
    headers = h(app_client, demo_shop, "agent")
    phone = app_client.post(
        "/api/v1/scripts/preview",
        json={"script_id": sid, "channel": "phone", "order_no": order_no},
        headers=headers,
    ).json()
    assert phone["text"] == f"您好，这里是店小二。第一步核实订单 {order_no}"
    social = app_client.post(
        "/api/v1/scripts/preview", json={"script_id": sid, "channel": "social"}, headers=headers
    )
    assert social.status_code == 404
    unknown = app_client.post(
        "/api/v1/scripts/preview", json={"answer": "x", "order_no": "NOPE123"}, headers=headers
    )
    assert unknown.status_code == 404
    empty = app_client.post("/api/v1/scripts/preview", json={}, headers=headers)
    assert empty.status_code == 422


def test_check_endpoint_and_category_tree(app_client, demo_shop):
    headers = h(app_client, demo_shop, "agent")
    checked = app_client.post(
        "/api/v1/scripts/check",
        json={"text": "我们大概48小时内为您退款 {coupon}", "category": "售后/退款"},
        headers=headers,
    ).json()
    assert checked["kind"] == "after_sale"
    assert [f["rule"] for f in checked["findings"]] == ["vague_commitment"]
    assert {p["part"]: p["present"] for p in checked["structure"]} == {
        "responsibility": False,
        "solution": True,
        "time_promise": True,
    }
    assert checked["unknown_variables"] == ["coupon"]

    create(
        app_client, h(app_client, demo_shop, "supervisor"), dict(COMPLAINT, category="投诉/直播间")
    )
    tree = app_client.get("/api/v1/scripts/categories").json()
    roots = {n["name"]: n for n in tree}
    assert list(roots)[:3] == ["咨询", "售后", "投诉"]
    assert roots["售后"]["kind"] == "after_sale"
    complaint_paths = [c["path"] for c in roots["投诉"]["children"]]
    assert "投诉/直播间" in complaint_paths
    assert "投诉/物流" in complaint_paths


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"answers": [{"channel": "fax", "variant": "A", "body": "x"}]}, "invalid_input"),
        ({"answers": [{"channel": "im", "variant": "A", "body": "x"}]}, "invalid_input"),
        ({"answers": [{"channel": "phone", "variant": "C", "body": "x"}]}, "invalid_input"),
        ({"answers": [{"channel": "phone", "body": "{nope}"}]}, "unknown_variable"),
        ({"triggers": {"moods": ["x"]}}, "unknown_trigger"),
        ({"triggers": {"channels": ["fax"]}}, "unknown_trigger_value"),
        ({"triggers": {"emotions": "furious"}}, "unknown_trigger_value"),
    ],
)
def test_bad_wordings_and_triggers_are_422_and_change_nothing(app_client, demo_shop, payload, code):
    headers = h(app_client, demo_shop, "supervisor")
    sid = create(app_client, headers)["id"]
    before = app_client.get(f"/api/v1/scripts/{sid}").json()
    response = app_client.patch(f"/api/v1/scripts/{sid}", json=payload, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert app_client.get(f"/api/v1/scripts/{sid}").json() == before


def test_other_shops_scripts_are_not_found_for_lifecycle_routes(
    app_client, demo_shop, other_shop, in_session
):
    from xiaoer.knowledge.library import list_published

    async def foreign_id(session):
        return (await list_published(session, shop_id=other_shop.shop_id))[0].id

    foreign = in_session(foreign_id)
    headers = h(app_client, demo_shop, "admin")
    assert app_client.get(f"/api/v1/scripts/{foreign}/versions").status_code == 404
    assert app_client.get(f"/api/v1/scripts/{foreign}/versions/1").status_code == 404
    assert app_client.get(f"/api/v1/scripts/{foreign}/diff", params={"old": 1}).status_code == 404
    for action in ("submit", "return", "publish"):
        response = app_client.post(f"/api/v1/scripts/{foreign}/{action}", headers=headers)
        assert response.status_code == 404, action
    rollback = app_client.post(
        f"/api/v1/scripts/{foreign}/rollback", json={"version": 1}, headers=headers
    )
    assert rollback.status_code == 404
    preview = app_client.post(
        "/api/v1/scripts/preview", json={"script_id": foreign}, headers=headers
    )
    assert preview.status_code == 404
    other_order = other_shop.sample_order_nos["in_transit"]
    if other_order != demo_shop.sample_order_nos["in_transit"]:
        foreign_order = app_client.post(
            "/api/v1/scripts/preview",
            json={"answer": "x", "order_no": other_order},
            headers=headers,
        )
        assert foreign_order.status_code == 404


def test_lint_rules_are_configured_by_admins_only_and_apply(app_client, demo_shop, in_session):
    assert app_client.get("/api/v1/scripts/lint-rules").status_code == 401
    agent = h(app_client, demo_shop, "agent")
    assert app_client.get("/api/v1/scripts/lint-rules").status_code == 403
    change = {
        "rules": {
            "misleading_claim": {"severity": "warn", "phrases": ["宇宙第一"]},
            "vague_commitment": {"severity": "off"},
        },
        "limits_cents": {"agent": 1000},
    }
    assert (
        app_client.put("/api/v1/scripts/lint-rules", json=change, headers=agent).status_code == 403
    )
    supervisor = h(app_client, demo_shop, "supervisor")
    assert app_client.get("/api/v1/scripts/lint-rules").status_code == 200
    denied = app_client.put("/api/v1/scripts/lint-rules", json=change, headers=supervisor)
    assert denied.status_code == 403

    admin = h(app_client, demo_shop, "admin")
    saved = app_client.put("/api/v1/scripts/lint-rules", json=change, headers=admin)
    assert saved.status_code == 200, saved.text
    rules = {r["id"]: r for r in saved.json()["rules"]}
    assert rules["misleading_claim"]["severity"] == "warn"
    assert rules["misleading_claim"]["extra_phrases"] == ["宇宙第一"]
    assert rules["vague_commitment"]["severity"] == "off"
    assert saved.json()["limits_cents"] == {"agent": 1000, "supervisor": 20000}

    agent = h(app_client, demo_shop, "agent")
    checked = app_client.post(
        "/api/v1/scripts/check",
        json={"text": "宇宙第一好用，大概明天到，补偿您20元", "category": "售后/物流"},
        headers=agent,
    ).json()
    by_rule = {f["rule"]: f for f in checked["findings"]}
    assert by_rule["misleading_claim"]["severity"] == "warn"
    assert "vague_commitment" not in by_rule
    assert by_rule["unauthorised_compensation"]["severity"] == "block"  # 20 元 > 10 元

    async def audits(session):
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.shop_id == demo_shop.shop_id, AuditEntry.action == "lint_rules.updated"
            )
        )
        return [(r.before, r.after) for r in rows]

    [(before, after)] = in_session(audits)
    # The demo shop starts with its real policy wording allowed (假一赔十).
    assert before == {"lint": {"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}}}
    assert after["lint"]["rules"]["vague_commitment"] == {"severity": "off"}

    admin = h(app_client, demo_shop, "admin")
    for bad in (
        {"rules": {"no_such_rule": {"severity": "warn"}}},
        {"rules": {"misleading_claim": {"severity": "loud"}}},
        {"rules": {"personal_data_id_card": {"phrases": ["x"]}}},
        {"limits_cents": {"agent": -1}},
        {"limits_cents": {"intern": 100}},
        {"extra": 1},
    ):
        response = app_client.put("/api/v1/scripts/lint-rules", json=bad, headers=admin)
        assert response.status_code == 422, bad
        assert response.json()["error"] in ("invalid_input", "unknown_rule")


def test_lint_cli_keeps_using_the_default_rules(app_client, demo_shop):
    """Shop settings change the editor's lint, never `xiaoer scripts lint`'s contract."""
    from typer.testing import CliRunner

    from xiaoer.knowledge.cli import app

    admin = h(app_client, demo_shop, "admin")
    change = {"rules": {"misleading_claim": {"severity": "off"}}}
    assert (
        app_client.put("/api/v1/scripts/lint-rules", json=change, headers=admin).status_code == 200
    )
    result = CliRunner().invoke(app, ["lint", "全网最低价"])
    assert result.exit_code == 0
    assert '"rule": "misleading_claim"' in result.stdout
    assert '"blocked": true' in result.stdout


def test_a_shops_allowed_wording_is_saved_and_spared_by_its_check(app_client, demo_shop):
    admin = h(app_client, demo_shop, "admin")
    body = {"text": "本店假一赔十，我保证明天送到", "category": "咨询/商品"}
    # The demo shop is seeded with its real policy wording allowed.
    checked = app_client.post("/api/v1/scripts/check", json=body, headers=admin).json()
    assert [body["text"][f["start"] : f["end"]] for f in checked["findings"]] == ["我保证"]

    change = {"rules": {"absolute_promise": {"allowed": []}}}
    saved = app_client.put("/api/v1/scripts/lint-rules", json=change, headers=admin)
    assert saved.status_code == 200, saved.text
    rules = {r["id"]: r for r in saved.json()["rules"]}
    assert rules["absolute_promise"]["allowed_phrases"] == []
    assert rules["absolute_promise"]["accepts_allowed"] is True
    checked = app_client.post("/api/v1/scripts/check", json=body, headers=admin).json()
    assert "假一赔十" in [body["text"][f["start"] : f["end"]] for f in checked["findings"]]

    refused = app_client.put(
        "/api/v1/scripts/lint-rules",
        json={"rules": {"complaint_missing_remedy": {"allowed": ["x"]}}},
        headers=admin,
    )
    assert refused.status_code == 422
