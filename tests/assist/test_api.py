"""Agent assist over HTTP: the panel, ranked suggestions, the reply lint with supervisor
override, usage events, script search and proposals (issue 3 §§2, 3, 5)."""

from __future__ import annotations

import json
from typing import Any

from tests.assist.helpers import audit_rows, served_chat
from tests.conversations.chat import Staff, frames_until, hello, message_from
from tests.web.data import rows
from xiaoer.commerce.service import VARIABLE_LABELS

ANGRY = "你们这是什么垃圾服务，气死我了！！"


def as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def messages_of(sync_engine, conversation_id: int, sender: str = "agent") -> list[str]:
    return [
        r[0]
        for r in rows(
            sync_engine,
            "select body from message where conversation_id = :c and sender_type = :s order by id",
            c=conversation_id,
            s=sender,
        )
    ]


# --- panel and suggestions -----------------------------------------------------------------------


def test_panel_suggests_three_filled_scripts_and_records_them_once(
    app_client, demo_shop, sync_engine
):
    chat = served_chat(app_client, demo_shop, "帮我查下物流到哪了")
    url = f"/api/v1/assist/conversations/{chat.conversation_id}/panel"
    panel = chat.agent.get(url).json()
    assert panel["message_id"] == chat.message_ids[-1]
    assert panel["alert"] is False
    assert panel["calming"] == []
    top = panel["suggestions"]
    assert len(top) == 3
    assert top[0]["title"] == "查询物流进度"
    assert "{" not in top[0]["text"]
    assert "【订单号】" not in top[0]["text"]
    assert {"script_id", "title", "text", "score", "variant", "channel", "match", "success"} <= set(
        top[0]
    )
    assert top[0]["channel"] == "im"
    assert [s["score"] for s in top] == sorted((s["score"] for s in top), reverse=True)
    chat.agent.get(url)  # a refresh is not a new suggestion
    listed = chat.agent.get(f"/api/v1/conversations/{chat.conversation_id}/suggestions").json()
    assert [s["script_id"] for s in listed] == [s["script_id"] for s in top]
    events = rows(
        sync_engine,
        "select script_id, message_id, score from script_event"
        " where conversation_id = :c and kind = 'suggested'",
        c=chat.conversation_id,
    )
    assert sorted(e[0] for e in events) == sorted(s["script_id"] for s in top)
    assert {e[1] for e in events} == {chat.message_ids[-1]}
    assert all(e[2] is not None for e in events)


def test_angry_customer_turns_the_panel_red_with_the_calming_pack(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, ANGRY)
    panel = chat.agent.get(f"/api/v1/assist/conversations/{chat.conversation_id}/panel").json()
    assert panel["alert"] is True
    assert panel["emotion"]["label"] == "anger"
    assert panel["emotion"]["angry"] is True
    calming = panel["calming"]
    assert len(calming) == 6
    titles = {c["title"] for c in calming}
    assert {"安抚愤怒客户", "久等致歉", "差评挽回"} <= titles
    assert all(c["category"] == "投诉/情绪安抚" for c in calming)
    # Variables are filled from the customer's order; nothing raw is left.
    assert all("{" not in c["text"] for c in calming)


def test_calm_customer_gets_no_alert(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    panel = chat.agent.get(f"/api/v1/assist/conversations/{chat.conversation_id}/panel").json()
    assert panel["alert"] is False
    assert panel["emotion"]["negative"] is False


# --- the reply lint and the supervisor override ------------------------------------------------


def test_live_lint_blocks_banned_phrases_only_for_an_angry_customer(app_client, demo_shop):
    angry = served_chat(app_client, demo_shop, ANGRY)
    draft = "请您理解，这是规定。"
    found = angry.agent.post(
        "/api/v1/assist/lint", json={"conversation_id": angry.conversation_id, "text": draft}
    ).json()
    assert found["angry"] is True
    assert found["blocked"] is True
    banned = [f for f in found["findings"] if f["rule"] == "angry_banned_phrase"]
    assert [draft[f["start"] : f["end"]] for f in banned] == ["请您理解", "这是规定"]
    assert all(f["suggestion"] and f["message"] for f in banned)

    calm = served_chat(app_client, demo_shop, "可以开发票吗", identify=False)
    found = calm.agent.post(
        "/api/v1/assist/lint", json={"conversation_id": calm.conversation_id, "text": draft}
    ).json()
    assert found["angry"] is False
    assert found["blocked"] is False
    assert found["findings"] == []


def test_lint_uses_the_inserted_scripts_kind_and_the_senders_role(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    body = {"conversation_id": chat.conversation_id, "text": "给您补偿100元"}
    as_agent = chat.agent.post("/api/v1/assist/lint", json=body).json()
    assert as_agent["role"] == "agent"
    assert as_agent["blocked"] is True
    assert [f["rule"] for f in as_agent["findings"]] == ["unauthorised_compensation"]
    supervisor = Staff(app_client, demo_shop, "supervisor")
    as_supervisor = supervisor.post("/api/v1/assist/lint", json=body).json()
    assert as_supervisor["role"] == "supervisor"
    assert as_supervisor["blocked"] is False

    scripts = chat.agent.get("/api/v1/assist/scripts", params={"q": "安抚愤怒客户"}).json()
    complaint = {**body, "text": "好的", "script_id": scripts[0]["script_id"]}
    found = chat.agent.post("/api/v1/assist/lint", json=complaint).json()
    assert found["category"] == "complaint"
    assert {"complaint_missing_remedy", "complaint_missing_next_step"} <= {
        f["rule"] for f in found["findings"]
    }


def test_blocked_reply_is_not_stored_and_never_reaches_the_customer(
    app_client, demo_shop, sync_engine
):
    chat = served_chat(app_client, demo_shop, "能便宜点吗")
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    refused = chat.agent.post(url, json={"body": "我们是全网最低价哦", "client_msg_id": "b-1"})
    assert refused.status_code == 422
    data = refused.json()
    assert data["error"] == "lint_blocked"
    assert data["blocked"] is True
    assert [f["rule"] for f in data["findings"]] == ["misleading_claim"]
    assert messages_of(sync_engine, chat.conversation_id) == []
    # A clean reply goes through; an internal note is never linted.
    assert chat.agent.post(url, json={"body": "活动期间到手价 99 元"}).status_code == 200
    note = chat.agent.post(url, json={"body": "客户嫌贵，全网最低价也不行", "internal": True})
    assert note.status_code == 200


def test_override_with_a_wrong_password_or_a_non_supervisor_is_refused(
    app_client, demo_shop, sync_engine, other_shop
):
    chat = served_chat(app_client, demo_shop, "能便宜点吗")
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    supervisor = demo_shop.login("supervisor")
    attempts = [
        {"username": supervisor.username, "password": "wrong-password"},
        {"username": demo_shop.login("agent", 1).username, "password": "xiaoer-agent-2026"},
        {
            "username": other_shop.login("supervisor").username,
            "password": other_shop.login("supervisor").password,
        },
        {"username": "nobody-here", "password": "x"},
    ]
    for override in attempts:
        refused = chat.agent.post(url, json={"body": "全网最低价", "override": override})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "override_refused"
    assert messages_of(sync_engine, chat.conversation_id) == []
    refusals = audit_rows(sync_engine, demo_shop.shop_id, "reply.lint_override_refused")
    assert len(refusals) == 4
    assert as_dict(refusals[0][2])["username"] == supervisor.username
    # An agent cannot approve their own blocked reply.
    self_ok = chat.agent.post(url, json={"body": "全网最低价", "override": {"confirm": True}})
    assert (self_ok.status_code, self_ok.json()["error"]) == (403, "forbidden")
    # Neither a password without a name nor nothing at all is an override.
    for bad in ({"password": "x"}, {}):
        assert chat.agent.post(url, json={"body": "hi", "override": bad}).status_code == 422


def test_repeated_wrong_override_passwords_are_throttled(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, "能便宜点吗")
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    supervisor = demo_shop.login("supervisor")
    wrong = {"body": "全网最低价", "override": {"username": supervisor.username, "password": "no"}}
    codes = [chat.agent.post(url, json=wrong).status_code for _ in range(11)]
    assert codes[:10] == [403] * 10
    assert codes[10] == 429
    # The right password is refused too while the throttle holds.
    right = {
        **wrong,
        "override": {"username": supervisor.username, "password": supervisor.password},
    }
    assert chat.agent.post(url, json=right).status_code == 429


def test_supervisor_override_sends_the_reply_and_is_audited(app_client, demo_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "能便宜点吗")
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    supervisor = demo_shop.login("supervisor")
    override = {"username": supervisor.username, "password": supervisor.password}
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws, chat.token, last_message_id=10**12)
        sent = chat.agent.post(url, json={"body": "本店全网最低价", "override": override})
        assert sent.status_code == 200, sent.text
        got = frames_until(ws, "message.created", where=message_from("agent"))[-1]
    assert got["message"]["body"] == "本店全网最低价"
    assert "meta" not in got["message"]  # the customer never sees the override
    meta = sent.json()["meta"]["lint_override"]
    assert meta["rules"] == ["misleading_claim"]
    assert meta["approved_by"]["name"] == supervisor.display_name
    entries = audit_rows(sync_engine, demo_shop.shop_id, "reply.lint_override")
    assert len(entries) == 1
    actor_name, entity_id, after = entries[0]
    after = as_dict(after)
    assert entity_id == str(sent.json()["id"])
    assert after["text"] == "本店全网最低价"
    assert after["findings"][0]["rule"] == "misleading_claim"
    assert after["agent"]["username"] == chat.agent.account.username
    assert after["approved_by"]["username"] == supervisor.username
    assert actor_name == chat.agent.account.username


def test_supervisor_sender_confirms_their_own_override(app_client, demo_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "能便宜点吗", role="supervisor")
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    assert chat.agent.post(url, json={"body": "全网最低价"}).status_code == 422
    sent = chat.agent.post(url, json={"body": "全网最低价", "override": {"confirm": True}})
    assert sent.status_code == 200, sent.text
    (entry,) = audit_rows(sync_engine, demo_shop.shop_id, "reply.lint_override")
    assert as_dict(entry[2])["self_approved"] is True


# --- usage events ---------------------------------------------------------------------------------


def test_inserted_and_sent_events_say_whether_the_agent_edited(app_client, demo_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    panel = chat.agent.get(f"/api/v1/assist/conversations/{chat.conversation_id}/panel").json()
    first = panel["suggestions"][0]
    usage = {"conversation_id": chat.conversation_id, "script_id": first["script_id"]}
    assert chat.agent.post("/api/v1/assist/usage", json=usage).status_code == 204
    assert chat.agent.post("/api/v1/assist/usage", json=usage).status_code == 204  # once
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    assist = {"script_id": first["script_id"], "inserted_text": first["text"]}
    assert chat.agent.post(url, json={"body": first["text"], "assist": assist}).status_code == 200
    edited = first["text"] + "（已备注）"
    assert chat.agent.post(url, json={"body": edited, "assist": assist}).status_code == 200
    events = rows(
        sync_engine,
        "select kind, edited, variant, channel, user_id from script_event"
        " where conversation_id = :c and script_id = :s and kind in ('inserted', 'sent')"
        " order by id",
        c=chat.conversation_id,
        s=first["script_id"],
    )
    assert [(e[0], e[1]) for e in events] == [
        ("inserted", None),
        ("sent", False),
        ("sent", True),
    ]
    assert {(e[2], e[3], e[4]) for e in events} == {(first["variant"], "im", chat.agent.id)}
    stored = rows(
        sync_engine,
        "select meta from message where conversation_id = :c and sender_type = 'agent'",
        c=chat.conversation_id,
    )
    assert as_dict(stored[0][0])["script_id"] == first["script_id"]


def test_sent_without_a_reported_insert_records_both(app_client, demo_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    found = chat.agent.get("/api/v1/assist/scripts", params={"q": "发票"}).json()
    script_id = found[0]["script_id"]
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    sent = chat.agent.post(url, json={"body": "可以开", "assist": {"script_id": script_id}})
    assert sent.status_code == 200
    kinds = rows(
        sync_engine,
        "select kind, edited from script_event where conversation_id = :c and script_id = :s"
        " and kind in ('inserted', 'sent') order by id",
        c=chat.conversation_id,
        s=script_id,
    )
    assert [(k, e) for k, e in kinds] == [("inserted", None), ("sent", True)]


def test_another_shops_script_is_not_found(app_client, demo_shop, other_shop, sync_engine):
    foreign = rows(
        sync_engine, "select id from script where shop_id = :s limit 1", s=other_shop.shop_id
    )[0][0]
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    usage = {"conversation_id": chat.conversation_id, "script_id": foreign}
    assert chat.agent.post("/api/v1/assist/usage", json=usage).status_code == 404
    url = f"/api/v1/conversations/{chat.conversation_id}/messages"
    reply = chat.agent.post(url, json={"body": "好的", "assist": {"script_id": foreign}})
    assert (reply.status_code, reply.json()["error"]) == (404, "not_found")
    lint = chat.agent.post(
        "/api/v1/assist/lint",
        json={"conversation_id": chat.conversation_id, "text": "好", "script_id": foreign},
    )
    assert lint.status_code == 404
    assert messages_of(sync_engine, chat.conversation_id) == []
    assert rows(sync_engine, "select id from script_event where script_id = :s", s=foreign) == []


# --- repeat inquiries -----------------------------------------------------------------------------


def test_returning_customer_sees_the_previous_conversation_promise_and_ticket(
    app_client, demo_shop, sync_engine
):
    first = served_chat(app_client, demo_shop, "我的快递三天了还没到")
    url = f"/api/v1/conversations/{first.conversation_id}/messages"
    promise = "已经帮您联系快递加急，我们会在48小时内为您补发。"
    assert first.agent.post(url, json={"body": f"非常抱歉。{promise}有问题随时找我"}).is_success
    ticket = first.agent.post(
        "/api/v1/tickets",
        json={"conversation_id": first.conversation_id, "type": "after_sale", "priority": "P2"},
    )
    assert ticket.status_code == 201, ticket.text
    assert first.agent.post(f"/api/v1/conversations/{first.conversation_id}/close").is_success

    again = served_chat(app_client, demo_shop, "东西还是没到啊", token=first.token)
    assert again.conversation_id != first.conversation_id
    panel = again.agent.get(f"/api/v1/assist/conversations/{again.conversation_id}/panel").json()
    (previous,) = [h for h in panel["history"] if h["conversation_id"] == first.conversation_id]
    assert panel["history"][0]["conversation_id"] == first.conversation_id  # newest first
    assert previous["topics"] == ["我的快递三天了还没到"]
    assert previous["promises"] == [promise]
    assert previous["tickets"][0]["number"] == ticket.json()["number"]
    assert previous["tickets"][0]["status"] == ticket.json()["status"]
    assert previous["status"] == "closed"


def test_conversations_older_than_seven_days_are_left_out(app_client, demo_shop, sync_engine):
    first = served_chat(app_client, demo_shop, "我要退货")
    assert first.agent.post(f"/api/v1/conversations/{first.conversation_id}/close").is_success
    with sync_engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("update conversation set last_message_at = :t, created_at = :t where id = :i"),
            {"t": "2020-01-01 00:00:00", "i": first.conversation_id},
        )
    again = served_chat(app_client, demo_shop, "在吗", token=first.token)
    panel = again.agent.get(f"/api/v1/assist/conversations/{again.conversation_id}/panel").json()
    assert first.conversation_id not in [h["conversation_id"] for h in panel["history"]]


# --- search ---------------------------------------------------------------------------------------


def test_search_by_pinyin_initials_title_and_question(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, "在吗")
    search = "/api/v1/assist/scripts"
    by_initials = chat.agent.get(
        search, params={"q": "cxwl", "conversation_id": chat.conversation_id}
    ).json()
    assert by_initials[0]["title"] == "查询物流进度"
    assert by_initials[0]["matched_on"] == "initials"
    assert by_initials[0]["initials"] == "cxwljd"
    assert "{" not in by_initials[0]["text"]
    # no unfilled 【订单号】-style placeholder (tracking events may bracket a hub: 【杭州转运中心】)
    assert not [v for v in VARIABLE_LABELS.values() if f"【{v}】" in by_initials[0]["text"]]
    by_title = chat.agent.get(search, params={"q": "物流进度"}).json()
    assert by_title[0]["title"] == "查询物流进度"
    by_question = chat.agent.get(search, params={"q": "付款一直不成功"}).json()
    assert [s["title"] for s in by_question] == ["付款失败"]
    assert by_question[0]["matched_on"] == "keyword"
    by_pinyin = chat.agent.get(search, params={"q": "chaxun"}).json()
    assert "查询物流进度" in [s["title"] for s in by_pinyin]
    assert chat.agent.get(search, params={"q": "没有这种话术zzzz"}).json() == []
    assert len(chat.agent.get(search).json()) == 10
    assert chat.agent.get(search, params={"q": "x" * 101}).status_code == 422


# --- proposals ------------------------------------------------------------------------------------


def test_proposals_from_a_customer_message(app_client, demo_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "发票抬头写错了能改吗")
    message_id = chat.message_ids[0]
    script_id = chat.agent.get("/api/v1/assist/scripts", params={"q": "发票"}).json()[0][
        "script_id"
    ]
    body = {
        "conversation_id": chat.conversation_id,
        "message_id": message_id,
        "kind": "new_variant",
        "script_id": script_id,
    }
    made = chat.agent.post("/api/v1/assist/proposals", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["question"] == "发票抬头写错了能改吗"
    assert chat.agent.post("/api/v1/assist/proposals", json=body).status_code == 409
    new_script = {**body, "kind": "new_script", "script_id": None, "title": "修改发票抬头"}
    assert chat.agent.post("/api/v1/assist/proposals", json=new_script).status_code == 201
    stored = rows(
        sync_engine,
        "select kind, script_id, question, conversation_id, message_id, proposed_by_id, status"
        " from script_proposal where conversation_id = :c order by id",
        c=chat.conversation_id,
    )
    assert [tuple(r) for r in stored] == [
        ("new_variant", script_id, "发票抬头写错了能改吗", chat.conversation_id, message_id,
         chat.agent.id, "open"),
        ("new_script", None, "发票抬头写错了能改吗", chat.conversation_id, message_id,
         chat.agent.id, "open"),
    ]  # fmt: skip
    assert len(audit_rows(sync_engine, demo_shop.shop_id, "script.proposed")) == 2


def test_proposal_input_is_checked(app_client, demo_shop, other_shop, sync_engine):
    chat = served_chat(app_client, demo_shop, "发票抬头写错了能改吗")
    other = served_chat(app_client, demo_shop, "在吗", identify=False)
    base = {"conversation_id": chat.conversation_id, "message_id": chat.message_ids[0]}
    post = lambda body: chat.agent.post("/api/v1/assist/proposals", json=body)  # noqa: E731
    # A message of another conversation, an agent's message, a missing script.
    assert (
        post({**base, "message_id": other.message_ids[0], "kind": "new_script"}).status_code == 404
    )
    reply = chat.agent.post(
        f"/api/v1/conversations/{chat.conversation_id}/messages", json={"body": "您好"}
    ).json()
    agent_msg = post({**base, "message_id": reply["id"], "kind": "new_script"})
    assert (agent_msg.status_code, agent_msg.json()["error"]) == (422, "not_customer_message")
    no_script = post({**base, "kind": "new_variant"})
    assert (no_script.status_code, no_script.json()["error"]) == (422, "script_required")
    foreign = rows(
        sync_engine, "select id from script where shop_id = :s limit 1", s=other_shop.shop_id
    )[0][0]
    assert post({**base, "kind": "new_variant", "script_id": foreign}).status_code == 404
    assert post({**base, "kind": "nonsense"}).status_code == 422
    outsider = Staff(app_client, other_shop, "agent")
    cross = outsider.post("/api/v1/assist/proposals", json={**base, "kind": "new_script"})
    assert cross.status_code == 404


# --- access ---------------------------------------------------------------------------------------


def test_other_shops_conversation_is_not_found_on_every_assist_route(
    app_client, demo_shop, other_shop
):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    outsider = Staff(app_client, other_shop, "admin")
    cid = chat.conversation_id
    calls = [
        outsider.get(f"/api/v1/assist/conversations/{cid}/panel"),
        outsider.get(f"/api/v1/conversations/{cid}/suggestions"),
        outsider.post("/api/v1/assist/lint", json={"conversation_id": cid, "text": "hi"}),
        outsider.get("/api/v1/assist/scripts", params={"q": "cx", "conversation_id": cid}),
        outsider.post("/api/v1/assist/usage", json={"conversation_id": cid, "script_id": 1}),
    ]
    for response in calls:
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"


def test_assist_api_needs_login_csrf_and_good_input(app_client, demo_shop):
    chat = served_chat(app_client, demo_shop, "可以开发票吗")
    lint = {"conversation_id": chat.conversation_id, "text": "hi"}
    assert (
        chat.agent._use().post("/api/v1/assist/lint", json=lint).status_code == 403
    )  # no CSRF token
    for bad in ({"conversation_id": chat.conversation_id}, {"conversation_id": 0, "text": "x"},
                {**lint, "extra": 1}, {**lint, "text": "x" * 20_001}):  # fmt: skip
        response = chat.agent.post("/api/v1/assist/lint", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]
    app_client.cookies.clear()
    assert (
        app_client.get(f"/api/v1/assist/conversations/{chat.conversation_id}/panel").status_code
        == 401
    )
