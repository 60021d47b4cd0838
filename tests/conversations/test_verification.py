"""Security regressions (issue 9 §1, §3, §7): a widget visitor must prove who they are before
the chat shows, tells or stores anything of a customer, and the widget socket defends itself.

The victim is a demo customer who verified and asked the bot about their parcel, so their
conversation holds their order number and tracking number. The attacker knows the victim's
phone number and order number and tries every way in; each must reveal and write nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.conversations.chat import Staff, frames_until, hello, receive, say
from tests.servers import free_port
from tests.web.data import rows
from xiaoer.conversations.channels.webchat import Limit, WidgetLimits
from xiaoer.conversations.schemas import MAX_FRAME_BYTES
from xiaoer.customers.verification import sign_identity

# Rate-limit windows are fixed; tests use windows so long that none ends during a test.
LONG = 10**7
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
WHERE_IS_MY_PARCEL = "我的快递到哪了"


def _victim(sync_engine: Any, shop_id: int) -> dict[str, Any]:
    """A customer with a phone, a shipped order and its tracking number."""
    row = rows(
        sync_engine,
        "select c.id, c.phone, o.id, o.order_no, s.tracking_no from customer c "
        "join shop_order o on o.customer_id = c.id join shipment s on s.order_id = o.id "
        "where c.shop_id = :s and c.phone is not null order by o.created_at desc, o.id desc "
        "limit 1",
        s=shop_id,
    )[0]
    return dict(zip(("id", "phone", "order_id", "order_no", "tracking_no"), row, strict=True))


def _verify_order(ws: Any, order_no: str, last4: str) -> dict[str, Any]:
    ws.send_json({"type": "verify", "method": "order", "order_no": order_no, "phone_last4": last4})
    return _answer(ws)


def _answer(ws: Any) -> dict[str, Any]:
    """The next `verified` or `error` frame."""
    for _ in range(30):
        frame = receive(ws)
        if frame["type"] in ("verified", "error"):
            return frame
    raise AssertionError("no answer to the verify frame")


def _bot_reply(ws: Any, body: str) -> str:
    """The bot's answer to `body`: the first bot message after the customer's own (the ack
    and the pushed answer may come in either order)."""
    cid = str(uuid.uuid4())
    ws.send_json({"type": "message", "client_msg_id": cid, "body": body})
    mine: int | None = None
    answers: list[dict[str, Any]] = []
    for _ in range(30):
        frame = receive(ws)
        if frame["type"] == "ack" and frame["client_msg_id"] == cid:
            mine = frame["message_id"]
        elif frame["type"] == "message.created" and frame["message"]["sender_type"] == "bot":
            answers.append(frame["message"])
        later = [a for a in answers if mine is not None and a["id"] > mine]
        if later:
            return str(later[0]["body"])
    raise AssertionError("no answer from the bot")


def _customer_messages(sync_engine: Any, customer_id: int) -> int:
    return int(
        rows(
            sync_engine,
            "select count(*) from message m join conversation c on c.id = m.conversation_id "
            "where c.customer_id = :c",
            c=customer_id,
        )[0][0]
    )


@pytest.fixture
def victim(app_client, demo_shop, sync_engine) -> dict[str, Any]:
    victim = _victim(sync_engine, demo_shop.shop_id)
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        assert _verify_order(ws, victim["order_no"], victim["phone"][-4:])["type"] == "verified"
        answer = _bot_reply(ws, f"订单{victim['order_no']}到哪了")
    # The verified victim is told their own order: the data the attacker must not get.
    assert victim["order_no"] in answer or victim["tracking_no"] in answer
    victim["messages"] = _customer_messages(sync_engine, victim["id"])
    return victim


def _assert_nothing_of(victim: dict[str, Any], frames: list[dict[str, Any]]) -> None:
    blob = repr(frames)
    for secret in (victim["order_no"], victim["tracking_no"], victim["phone"]):
        assert secret not in blob


def test_claiming_the_victims_phone_reveals_and_writes_nothing(
    app_client, demo_shop, sync_engine, victim
):
    phone = victim["phone"]
    claims = [
        phone,
        f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}",
        f"  {phone}  ",
        phone.translate(FULL_WIDTH),
        f"0086{phone}",
    ]
    seen: list[dict[str, Any]] = []
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws)
        token = ready["visitor_token"]
        seen.append(ready)
        assert ready["conversation_id"] is None
        for claim in claims:
            ws.send_json({"type": "identify", "phone": claim})
            error = frames_until(ws, "error")[-1]
            assert error["code"] == "verification_required"
            seen.append(error)
        # A code goes to the victim's phone, not to the attacker; guesses fail.
        ws.send_json({"type": "verify_request", "channel": "sms", "target": claims[1]})
        seen.append(frames_until(ws, "code_sent")[-1])
        for guess in ("000000", "123456"):
            ws.send_json({"type": "verify", "method": "code", "code": guess})
            error = _answer(ws)
            assert error["code"] == "verification_failed"
        answer = _bot_reply(ws, WHERE_IS_MY_PARCEL)
        seen.append({"answer": answer})
    assert "验证" in answer
    _assert_nothing_of(victim, seen)
    # Reconnecting with the attacker's token replays nothing of the victim's.
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ws.send_json({"type": "hello", "visitor_token": token})
        frames = frames_until(ws, "ready")
        assert frames[-1]["verified"] is False
        # The attacker's own conversation comes back: their message and the bot's answer.
        frames += [receive(ws) for _ in range(2)]
    assert frames[-1]["type"] == "message.created"
    _assert_nothing_of(victim, frames)
    assert _customer_messages(sync_engine, victim["id"]) == victim["messages"]
    # The attacker's words are on their own anonymous record.
    owner = rows(
        sync_engine,
        "select v.customer_id, c.phone from visitor_identity v join customer c "
        "on c.id = v.customer_id where v.token = :t",
        t=token,
    )
    assert owner[0][0] != victim["id"]
    assert owner[0][1] is None


@pytest.mark.parametrize(
    "variant",
    [
        lambda n: n,
        lambda n: n.lower(),
        lambda n: f"  {n[:6]} {n[6:]} ",
        lambda n: n.translate(FULL_WIDTH),
        lambda n: f"{n[:2]}-{n[2:]}",
    ],
    ids=["exact", "lower", "spaces", "full-width", "dash"],
)
def test_claiming_the_victims_order_number_reveals_and_writes_nothing(
    app_client, demo_shop, sync_engine, victim, variant
):
    number = variant(victim["order_no"])
    seen: list[dict[str, Any]] = []
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        seen.append(hello(ws))
        ws.send_json({"type": "identify", "order_no": number})
        assert frames_until(ws, "error")[-1]["code"] == "verification_required"
        wrong = "0000" if victim["phone"][-4:] != "0000" else "1111"
        failed = _verify_order(ws, number, wrong)
        assert failed["code"] == "verification_failed"
        seen.append(failed)
        answer = _bot_reply(ws, f"订单{number}{WHERE_IS_MY_PARCEL}")
        seen.append({"answer": answer})
        tracking = _bot_reply(ws, f"运单号{victim['tracking_no']}到哪了")
        seen.append({"answer": tracking.replace(victim["tracking_no"], "")})
    _assert_nothing_of(victim, seen)
    assert _customer_messages(sync_engine, victim["id"]) == victim["messages"]
    failures = rows(
        sync_engine,
        "select count(*) from audit_entry where action = 'chat.verify_failed' and shop_id = :s",
        s=demo_shop.shop_id,
    )[0][0]
    assert failures >= 1


def test_the_right_order_number_and_digits_verify_in_any_spelling(
    app_client, demo_shop, sync_engine, victim
):
    number = victim["order_no"].lower().translate(FULL_WIDTH)
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ack = say(ws, "你好")
        verified = _verify_order(ws, f" {number} ", victim["phone"][-4:].translate(FULL_WIDTH))
        assert verified["type"] == "verified"
        answer = _bot_reply(ws, f"订单{victim['order_no']}到哪了")
    assert victim["order_no"] in answer or victim["tracking_no"] in answer, answer
    # What the visitor wrote before verifying now belongs to the verified customer.
    owner = rows(
        sync_engine,
        "select c.customer_id from conversation c join message m on m.conversation_id = c.id "
        "where m.id = :m",
        m=ack["message_id"],
    )[0][0]
    assert owner == victim["id"]
    audited = rows(
        sync_engine,
        "select entity_id from audit_entry where action = 'chat.verified' and shop_id = :s",
        s=demo_shop.shop_id,
    )
    assert str(victim["id"]) in {r[0] for r in audited}


def test_guessing_order_numbers_is_throttled_and_learns_nothing(
    app_client, demo_shop, sync_engine, victim
):
    app_client.app.state.widget_limits = replace(
        WidgetLimits(), verify_per_visitor=Limit(5, LONG), verify_per_ip=Limit(9, LONG)
    )
    base = victim["order_no"]
    guesses = [f"{base[:-4]}{i:04d}" for i in range(4)] + [base]
    answers = []
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        for guess in guesses:
            answers.append(_verify_order(ws, guess, "0000"))
        # Over the visitor's limit: even the right proof is refused until the window ends.
        throttled = _verify_order(ws, base, victim["phone"][-4:])
    # A real order with wrong digits is answered exactly like an order that does not exist.
    assert {(a["code"], a["message"]) for a in answers} == {
        ("verification_failed", answers[0]["message"])
    }
    assert throttled["code"] == "rate_limited"
    assert throttled["retry_after"] >= 1
    # A new visitor from the same address runs into the per-IP limit (the six tries above
    # counted too).
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        codes = [_verify_order(ws, guesses[0], "0000")["code"] for _ in range(4)]
    assert codes[:3] == ["verification_failed"] * 3
    assert codes[3] == "rate_limited"
    assert _customer_messages(sync_engine, victim["id"]) == victim["messages"]


def test_guessing_one_orders_digits_from_many_visitors_is_throttled_per_order(
    app_client, demo_shop, victim
):
    app_client.app.state.widget_limits = replace(
        WidgetLimits(), verify_per_target=Limit(3, LONG), verify_per_ip=Limit(100, LONG)
    )
    codes = []
    for last4 in ("0001", "0002", "0003", "0004"):
        with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
            hello(ws)
            codes.append(_verify_order(ws, victim["order_no"], last4)["code"])
    assert codes == ["verification_failed"] * 3 + ["rate_limited"]


def test_a_verified_session_expires_and_then_shows_nothing(
    app_client, demo_shop, sync_engine, victim
):
    state = app_client.app.state
    state.settings = state.settings.model_copy(update={"verified_session_hours": 1 / 3600})
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws)
        verified = _verify_order(ws, victim["order_no"], victim["phone"][-4:])
        assert verified["type"] == "verified"
        until = dt.datetime.fromisoformat(verified["verified_until"])
        stored = rows(
            sync_engine,
            "select verified_customer_id from visitor_identity where token = :v",
            v=ready["visitor_token"],
        )
        assert stored[0][0] == victim["id"]
        while dt.datetime.now(dt.UTC) <= until:
            time.sleep(0.2)
        ws.send_json({"type": "message", "client_msg_id": "late", "body": WHERE_IS_MY_PARCEL})
        # The open socket learns at once; the bot no longer tells the order.
        expired = frames_until(ws, "verification_expired")
        answer = frames_until(
            ws, "message.created", where=lambda f: f["message"]["sender_type"] == "bot"
        )
    # Before expiry the verified visitor was shown the victim's conversation (rightly): only
    # what came after the expiry counts.
    _assert_nothing_of(victim, expired[-1:] + answer)
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        again = hello(ws, ready["visitor_token"])
        assert again["verified"] is False
        # Only the visitor's own words since expiry; nothing of the victim's conversation.
        later = [receive(ws) for _ in range(2)]
    _assert_nothing_of(victim, [again, *later])


def test_the_merchants_signed_token_verifies_and_a_forged_or_stale_one_does_not(
    app_client, demo_shop, sync_engine
):
    admin = Staff(app_client, demo_shop, "admin")
    secret = admin.get("/api/v1/customers/identity-secret").json()["secret"]
    expires = int(time.time()) + 600
    token = sign_identity(secret, "member-42", expires)
    bad = [
        sign_identity(secret, "member-42", int(time.time()) - 5),  # expired
        sign_identity("not-the-secret", "member-42", expires),  # forged
        token.replace("member-42", "member-43"),  # tampered id
        sign_identity(secret, "member-42", int(time.time()) + 40 * 86400),  # lives too long
        "member-42",
    ]
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        for forged in bad:
            ws.send_json({"type": "verify", "method": "token", "token": forged})
            assert _answer(ws)["code"] == "verification_failed"
        ws.send_json({"type": "verify", "method": "token", "token": token})
        assert _answer(ws)["type"] == "verified"
    member = rows(
        sync_engine,
        "select id from customer where shop_id = :s and external_id = 'member-42'",
        s=demo_shop.shop_id,
    )
    assert len(member) == 1
    # Rotating the secret retires every token signed with the old one; both are audited.
    rotated = admin.post("/api/v1/customers/identity-secret/rotate").json()["secret"]
    assert rotated != secret
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ws.send_json({"type": "verify", "method": "token", "token": token})
        assert _answer(ws)["code"] == "verification_failed"
    actions = {
        r[0]
        for r in rows(
            sync_engine,
            "select action from audit_entry where shop_id = :s and action like 'chat_secret.%'",
            s=demo_shop.shop_id,
        )
    }
    assert actions == {"chat_secret.viewed", "chat_secret.rotated"}
    agent = Staff(app_client, demo_shop, "agent")
    assert agent.get("/api/v1/customers/identity-secret").status_code == 403
    assert agent.post("/api/v1/customers/identity-secret/rotate").status_code == 403


class _Recorder:
    """An SMS provider that keeps what it would send (the console one only logs)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, target: str, code: str, *, locale: str, minutes: int) -> None:
        self.sent.append((target, code))


def test_a_code_by_sms_verifies_once_and_few_wrong_tries_burn_it(
    app_client, demo_shop, sync_engine, victim
):
    sms = _Recorder()
    app_client.app.state.code_senders = {"sms": sms}
    app_client.app.state.widget_limits = replace(WidgetLimits(), verify_per_visitor=Limit(20, LONG))
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        # An unknown number gets the same answer and no message.
        ws.send_json({"type": "verify_request", "channel": "sms", "target": "13000000001"})
        unknown = frames_until(ws, "code_sent")[-1]
        ws.send_json({"type": "verify_request", "channel": "sms", "target": victim["phone"]})
        known = frames_until(ws, "code_sent")[-1]
        assert set(unknown) == set(known)
        assert unknown["expires_in"] == known["expires_in"]
        for _ in range(50):
            if sms.sent:
                break
            time.sleep(0.05)
        assert [t for t, _ in sms.sent] == [victim["phone"]]
        code = sms.sent[0][1]
        stored = rows(sync_engine, "select code_hash, target from verification_code")
        assert all(code not in r[0] for r in stored)
        ws.send_json({"type": "verify", "method": "code", "code": code.translate(FULL_WIDTH)})
        assert _answer(ws)["type"] == "verified"
        # Spent: the same code does not verify twice.
        ws.send_json({"type": "verify", "method": "code", "code": code})
        assert _answer(ws)["code"] == "verification_failed"
        # Five wrong tries burn a new code; the right one no longer works after that.
        ws.send_json({"type": "verify_request", "channel": "sms", "target": victim["phone"]})
        frames_until(ws, "code_sent")
        for _ in range(50):
            if len(sms.sent) == 2:
                break
            time.sleep(0.05)
        fresh = sms.sent[1][1]
        wrong = "000000" if fresh != "000000" else "111111"
        for _ in range(5):
            ws.send_json({"type": "verify", "method": "code", "code": wrong})
            assert _answer(ws)["code"] == "verification_failed"
        ws.send_json({"type": "verify", "method": "code", "code": fresh})
        assert _answer(ws)["code"] == "verification_failed"


def test_codes_by_email_are_unavailable_without_smtp(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ws.send_json({"type": "verify_request", "channel": "email", "target": "a@example.com"})
        assert frames_until(ws, "error")[-1]["code"] == "code_unavailable"


def test_hello_writes_no_customer_until_the_visitor_says_something(
    app_client, demo_shop, sync_engine
):
    def count() -> tuple[int, int]:
        return (
            rows(sync_engine, "select count(*) from customer")[0][0],
            rows(sync_engine, "select count(*) from visitor_identity")[0][0],
        )

    before = count()
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        first = hello(ws)
        again = hello(ws, first["visitor_token"])
        hello(ws, "forged-token-forged-token")
        assert count() == before
        assert again["visitor_token"] == first["visitor_token"]
        hello(ws, first["visitor_token"])
        say(ws, "你好")
    assert count() == (before[0] + 1, before[1] + 1)
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        resumed = hello(ws, first["visitor_token"])
    assert resumed["conversation_id"] is not None


def test_hello_and_message_floods_are_refused(app_client, demo_shop):
    app_client.app.state.widget_limits = replace(
        WidgetLimits(),
        hello_per_connection=Limit(3, LONG),
        hello_per_ip=Limit(5, LONG),
        message_per_connection=Limit(3, LONG),
    )
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        for _ in range(3):
            hello(ws)
        ws.send_json({"type": "hello"})
        assert frames_until(ws, "error")[-1]["code"] == "rate_limited"
        for i in range(3):
            say(ws, f"第{i}条")
        ws.send_json({"type": "message", "client_msg_id": "flood", "body": "再来一条"})
        refused = frames_until(ws, "error")[-1]
        assert refused["code"] == "rate_limited"
        assert refused["retry_after"] >= 1
    # The same address on a new connection: two more hellos, then the per-IP limit.
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ws.send_json({"type": "hello"})
        assert frames_until(ws, "error")[-1]["code"] == "rate_limited"


def test_a_binary_frame_is_answered_with_a_close_frame(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ws.send_bytes(b"\x00\x01binary")
        assert receive(ws)["code"] == "binary_frame"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1003


def test_xiaoer_serve_refuses_an_oversized_frame_before_reading_it(tmp_path):
    """`xiaoer serve` hands uvicorn the frame limit, so the protocol layer closes with 1009
    instead of buffering a huge frame for the application to refuse."""
    port = free_port()
    env = {
        **os.environ,
        "XIAOER_ENV": "test",
        "XIAOER_LOG_JSON": "false",
        "XIAOER_DATA_DIR": str(tmp_path),
        "XIAOER_BENCH_ECHO": "true",
    }
    env.pop("XIAOER_DATABASE_URL", None)
    env.pop("XIAOER_REDIS_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "xiaoer", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Migrating a fresh database takes a while on a busy machine.
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "xiaoer serve did not start"
            time.sleep(0.3)
        with ws_connect(f"ws://127.0.0.1:{port}/ws/echo", max_size=None) as ws:
            ws.send("x" * 1000)
            assert ws.recv(timeout=10) == "x" * 1000
            ws.send("x" * (MAX_FRAME_BYTES + 1))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_after_verifying_with_an_older_order_the_bot_answers_about_that_order(
    app_client, demo_shop, sync_engine
):
    """ "我的快递到哪了" names no order: the one the shopper proved they own is the one in focus,
    not whichever of their orders is newest."""
    older = rows(
        sync_engine,
        "select c.phone, o.order_no, s.tracking_no, "
        "(select o2.order_no from shop_order o2 where o2.customer_id = c.id and o2.id <> o.id "
        " order by o2.created_at desc, o2.id desc limit 1) "
        "from customer c join shop_order o on o.customer_id = c.id "
        "join shipment s on s.order_id = o.id "
        "where c.shop_id = :s and c.phone is not null and exists ("
        " select 1 from shop_order n where n.customer_id = c.id and n.created_at > o.created_at) "
        "order by o.id limit 1",
        s=demo_shop.shop_id,
    )[0]
    phone, order_no, tracking_no, other_order_no = older
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        say(ws, "你好")
        assert _verify_order(ws, order_no, phone[-4:])["type"] == "verified"
        answer = _bot_reply(ws, WHERE_IS_MY_PARCEL)
    assert order_no in answer or tracking_no in answer, answer
    assert other_order_no not in answer
