"""`POST /api/v1/bot/preview` and `xiaoer bot ask`: the same decision, as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from tests.web.login import login_as

XIAOER = str(Path(sys.executable).parent / "xiaoer")
DECISION_KEYS = {
    "answer",
    "script_id",
    "intent",
    "confidence",
    "entities",
    "emotion",
    "handoff",
    "handoff_reason",
}


def as_role(client, shop, role):
    return {"X-CSRF-Token": login_as(client, shop, role)}


def test_preview_answers_an_order_question_with_the_real_shipment(
    app_client, demo_shop, sync_engine
):
    h = as_role(app_client, demo_shop, "supervisor")
    order_no = demo_shop.sample_order_nos["in_transit"]
    with sync_engine.connect() as conn:
        carrier = conn.execute(
            text(
                "select s.carrier from shipment s join shop_order o on o.id = s.order_id "
                "where o.order_no = :n and o.shop_id = :s"
            ),
            {"n": order_no, "s": demo_shop.shop_id},
        ).scalar_one()
    response = app_client.post(
        "/api/v1/bot/preview", json={"text": f"我的订单 {order_no} 到哪了"}, headers=h
    )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert set(decision) == DECISION_KEYS
    assert decision["handoff"] is False
    assert decision["intent"] == "咨询/物流"
    assert carrier in decision["answer"]
    assert decision["entities"][0]["type"] == "order_no"
    assert decision["confidence"] > 0.5
    assert decision["emotion"]["polarity"] == "neutral"


def test_preview_with_customer_fills_their_latest_order(app_client, demo_shop):
    h = as_role(app_client, demo_shop, "admin")
    response = app_client.post(
        "/api/v1/bot/preview",
        json={"text": "帮我查下物流", "customer_id": demo_shop.sample_customer_id},
        headers=h,
    )
    assert response.status_code == 200
    assert "XE" in response.json()["answer"]


def test_preview_hands_off_on_request(app_client, demo_shop):
    h = as_role(app_client, demo_shop, "admin")
    decision = app_client.post("/api/v1/bot/preview", json={"text": "转人工"}, headers=h).json()
    assert decision["handoff"] is True
    assert decision["handoff_reason"] == "customer_request"


def test_preview_is_for_admins_and_supervisors_only(app_client, demo_shop):
    h = as_role(app_client, demo_shop, "agent")
    response = app_client.post("/api/v1/bot/preview", json={"text": "你好"}, headers=h)
    assert response.status_code == 403


def test_preview_rejects_bad_input_with_clear_errors(app_client, demo_shop):
    h = as_role(app_client, demo_shop, "admin")
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 4001}, {}, {"text": 5}):
        response = app_client.post("/api/v1/bot/preview", json=body, headers=h)
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_input"
    foreign = app_client.post(
        "/api/v1/bot/preview", json={"text": "你好", "customer_id": 10**9}, headers=h
    )
    assert foreign.status_code == 404
    not_json = app_client.post(
        "/api/v1/bot/preview",
        content=b"{oops",
        headers={**h, "content-type": "application/json"},
    )
    assert not_json.status_code == 422


def test_cli_prints_one_json_decision(demo_shop, settings, tmp_path):
    env = {
        **os.environ,
        "XIAOER_DATABASE_URL": settings.effective_database_url,
        "XIAOER_DATA_DIR": str(tmp_path),
    }
    order_no = demo_shop.sample_order_nos["delivered"]
    done = subprocess.run(
        [
            XIAOER,
            "bot",
            "ask",
            f"订单{order_no}到哪了",
            "--shop",
            demo_shop.slug,
            "--customer-phone",
            demo_shop.sample_customer_phone,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert set(decision) == DECISION_KEYS
    assert order_no in decision["answer"]
    assert "已签收" in decision["answer"]
    assert done.stdout.count("\n") == 1

    missing = subprocess.run(
        [XIAOER, "bot", "ask", "你好", "--shop", "no-such-shop"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2
    assert "no-such-shop" in missing.stderr
    assert missing.stdout == ""
