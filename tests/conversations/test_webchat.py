"""The customer's side of the web chat: widget page and WebSocket frames."""

from __future__ import annotations

import re
import uuid

from tests.conversations.chat import frames_until, hello, say
from tests.web.data import rows

XSS = "<img src=x onerror=alert(1)>"


def test_widget_page_is_chinese_by_default_and_english_on_request(app_client, demo_shop):
    zh = app_client.get(f"/chat/{demo_shop.slug}")
    assert zh.status_code == 200
    assert "转人工" in zh.text
    assert 'name="viewport"' in zh.text
    en = app_client.get(f"/chat/{demo_shop.slug}?lang=en")
    assert "Talk to a human" in en.text


def test_every_verification_field_has_a_label_in_both_languages(app_client, demo_shop):
    for lang, title in (("zh-CN", "收件手机号后四位"), ("en", "Last 4 digits")):
        page = app_client.get(f"/chat/{demo_shop.slug}?lang={lang}").text
        panel = page[page.index('id="xw-identify"') : page.index("</details>")]
        ids = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', panel)
        assert len(ids) == 5
        for field_id in ids:
            assert f'<label for="{field_id}">' in panel, field_id
        assert title in panel


def test_widget_page_for_unknown_shop_is_404(app_client):
    response = app_client.get("/chat/no-such-shop", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_hello_gives_a_visitor_token_that_resumes_the_same_visitor(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws)
        token = ready["visitor_token"]
        assert ready["conversation_id"] is None
        ack = say(ws, "你好")
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        again = hello(ws, token)
    assert again["visitor_token"] == token
    assert again["conversation_id"] is not None
    assert ack["message_id"] > 0


def test_forged_visitor_token_gets_a_fresh_identity(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws, "<script>")
    assert ready["visitor_token"] != "<script>"
    assert len(ready["visitor_token"]) >= 16


def test_resent_client_message_id_is_stored_once_and_acked_with_the_same_id(
    app_client, demo_shop, sync_engine
):
    cid = str(uuid.uuid4())
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws)["visitor_token"]
        first = say(ws, "我的快递到哪了", client_msg_id=cid)
    # The client did not see the ack (say, the connection dropped) and resends after reconnect.
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws, token, last_message_id=0)
        second = say(ws, "我的快递到哪了", client_msg_id=cid)
    assert second["message_id"] == first["message_id"]
    stored = rows(sync_engine, "select id from message where client_msg_id = :c", c=cid)
    assert len(stored) == 1


def test_reconnect_with_last_message_id_receives_only_what_was_missed(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws)["visitor_token"]
        first = say(ws, "第一条")
        second = say(ws, "第二条")
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ws.send_json(
            {"type": "hello", "visitor_token": token, "last_message_id": first["message_id"]}
        )
        ready = frames_until(ws, "ready")[-1]
        # The backlog follows `ready`: everything after the first message, nothing before it.
        backlog = []
        ws.send_json({"type": "message", "client_msg_id": "end-marker", "body": "end"})
        for frame in frames_until(ws, "ack", client_msg_id="end-marker"):
            if frame["type"] == "message.created":
                backlog.append(frame["message"])
    ids = [m["id"] for m in backlog]
    assert first["message_id"] not in ids
    assert second["message_id"] in ids
    assert all(m["conversation_id"] == ready["conversation_id"] for m in backlog)


def test_script_tag_in_a_message_is_stored_verbatim_and_never_rendered_as_html(
    app_client, demo_shop, sync_engine
):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        cid = str(uuid.uuid4())
        ws.send_json({"type": "message", "client_msg_id": cid, "body": XSS})
        got = frames_until(
            ws, "message.created", where=lambda f: f["message"]["client_msg_id"] == cid
        )
        echoed = [got[-1]]
    assert echoed[0]["message"]["body"] == XSS
    assert (
        rows(sync_engine, "select body from message where client_msg_id = :c", c=cid)[0][0] == XSS
    )
    # The widget script renders chat text through textContent only.
    script = app_client.get("/static/widget.js").text
    assert "innerHTML" not in script
    assert "textContent" in script


BAD_FRAMES = [
    ("not json", "malformed"),
    ("[1, 2]", "malformed"),
    ('{"type": "shout"}', "unknown_type"),
    ('{"type": "message", "client_msg_id": "a1", "body": "   "}', "empty_message"),
    ('{"type": "message", "client_msg_id": "a2", "body": "' + "长" * 4001 + '"}', "too_long"),
    ('{"type": "message", "body": "hi"}', "invalid"),
    ('{"type": "rating", "rating": 9}', "invalid"),
    ('{"type": "identify"}', "invalid"),
    ('{"type": "verify", "method": "order", "order_no": "XE1"}', "invalid"),
    ('{"type": "verify_request", "channel": "fax", "target": "1"}', "invalid"),
    ('{"type": "verify_request", "channel": "sms", "target": "not a phone"}', "invalid_input"),
    ('{"a": ' * 40 + "1" + "}" * 40, "malformed"),
    ("[" * 100_000 + "]" * 100_000, "frame_too_large"),
    ('{"type": "message", "x": ' + "[" * 30_000 + "]" * 30_000 + "}", "malformed"),
    ('{"type": "hello", "last_message_id": -1}', "invalid"),
]


def test_bad_frames_get_an_error_frame_and_the_connection_stays_usable(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        for raw, code in BAD_FRAMES:
            ws.send_text(raw)
            error = frames_until(ws, "error")[-1]
            assert (error["code"], bool(error["message"])) == (code, True), raw[:60]
            ack = say(ws, "还在吗")
            assert ack["message_id"] > 0


def test_message_before_hello_is_refused_with_an_error_frame(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ws.send_json({"type": "message", "client_msg_id": "x", "body": "hi"})
        assert frames_until(ws, "error")[-1]["code"] == "hello_first"
        hello(ws)


def test_message_of_exactly_4000_characters_is_accepted(app_client, demo_shop, sync_engine):
    body = "好" * 4000
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ack = say(ws, body)
    stored = rows(sync_engine, "select body from message where id = :i", i=ack["message_id"])
    assert stored[0][0] == body


def test_unknown_shop_socket_gets_error_and_close(app_client):
    with app_client.websocket_connect("/ws/chat/no-such-shop") as ws:
        assert ws.receive_json()["code"] == "not_found"


def test_human_button_queues_the_conversation_and_tells_the_place_in_line(
    app_client, demo_shop, sync_engine
):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ws.send_json({"type": "message", "client_msg_id": "h1", "body": "转人工", "handoff": True})
        got = frames_until(ws, "handoff")
        handoff = got[-1]
    assert handoff["queue_position"] == 0
    assert handoff["reason"] == "customer_request"
    status = rows(
        sync_engine,
        "select status, queued_at from conversation where id = :i",
        i=handoff["conversation_id"],
    )[0]
    assert status[0] == "queued"
    assert status[1] is not None


def test_second_customer_in_queue_is_told_one_person_is_ahead(app_client, demo_shop):
    positions, notices = [], []
    for _ in range(2):
        with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
            hello(ws)
            ws.send_json({"type": "message", "client_msg_id": "q", "body": "人工", "handoff": True})
            got = frames_until(ws, "handoff")
            positions.append(got[-1]["queue_position"])
            notices += [
                f["message"]["body"]
                for f in got
                if f["type"] == "message.created" and f["message"]["sender_type"] == "system"
            ]
    assert positions == [0, 1]
    # The first is next in line (no "0 customers ahead"); the second hears one is ahead.
    assert notices == [
        "正在为您转接人工客服，下一位就是您，请稍候。",
        "正在为您转接人工客服，您前面还有 1 位顾客，请稍候。",
    ]


def test_bare_identify_claims_are_refused_and_write_nothing(app_client, demo_shop, sync_engine):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        say(ws, "你好")
        ws.send_json({"type": "identify", "phone": "+86 139-1234-5678"})
        assert frames_until(ws, "error")[-1]["code"] == "verification_required"
    found = rows(
        sync_engine,
        "select id from customer where shop_id = :s and phone = '13912345678'",
        s=demo_shop.shop_id,
    )
    assert found == []


def test_order_number_with_phone_digits_links_the_conversation_to_the_order(
    app_client, demo_shop, sync_engine
):
    order = rows(
        sync_engine,
        "select o.id, o.order_no, o.customer_id, c.phone from shop_order o "
        "join customer c on c.id = o.customer_id where o.shop_id = :s order by o.id limit 1",
        s=demo_shop.shop_id,
    )
    assert order, "the demo seed has orders"
    order_id, order_no, customer_id, phone = order[0]
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ack = say(ws, "你好")
        ws.send_json(
            {
                "type": "verify",
                "method": "order",
                "order_no": order_no.lower(),
                "phone_last4": phone[-4:],
            }
        )
        verified = frames_until(ws, "verified")[-1]
    assert verified["method"] == "order"
    assert verified["customer_name"]
    conv = rows(
        sync_engine,
        "select c.customer_id, c.order_id from conversation c join message m "
        "on m.conversation_id = c.id where m.id = :m",
        m=ack["message_id"],
    )[0]
    assert tuple(conv) == (customer_id, order_id)
