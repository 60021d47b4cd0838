"""The staff side: queue, accept, reply, note, transfer, close, read markers, staff socket."""

from __future__ import annotations

import asyncio
import uuid

from tests.conversations.chat import Staff, frames_until, hello, message_from, say
from tests.web.data import rows
from xiaoer.auth.models import User
from xiaoer.auth.service import actor_for
from xiaoer.conversations import service
from xiaoer.db import make_engine, make_sessionmaker, transaction
from xiaoer.errors import Conflict


def queued_conversation(app_client, demo_shop, text: str = "我要找人工客服") -> tuple[int, str]:
    """A customer asks for a person; returns (conversation id, visitor token)."""
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws)["visitor_token"]
        ws.send_json({"type": "message", "client_msg_id": str(uuid.uuid4()), "body": text})
        handoff = frames_until(ws, "handoff")[-1]
    return handoff["conversation_id"], token


def test_customer_asking_for_a_person_appears_in_the_queue(app_client, demo_shop):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    agent = Staff(app_client, demo_shop, "agent")
    queue = agent.get("/api/v1/conversations?view=queue").json()
    row = next(r for r in queue if r["id"] == conversation_id)
    assert row["status"] == "queued"
    assert row["handoff_reason"] == "customer_request"
    assert row["waiting_seconds"] >= 0
    assert row["unread"] == 1
    assert row["customer"]["name"]
    assert row["last_message"]["sender_type"] == "system"


def test_queue_is_ordered_by_priority_then_waiting_time(app_client, demo_shop, sync_engine):
    first, _ = queued_conversation(app_client, demo_shop)
    second, _ = queued_conversation(app_client, demo_shop)
    urgent, _ = queued_conversation(app_client, demo_shop)
    with sync_engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("update conversation set priority = 1 where id = :i"), {"i": urgent})
    agent = Staff(app_client, demo_shop, "agent")
    ids = [r["id"] for r in agent.get("/api/v1/conversations?view=queue").json()]
    assert ids[:3] == [urgent, first, second]


def test_second_agent_cannot_accept_taken_conversation(app_client, demo_shop):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    first = Staff(app_client, demo_shop, "agent", 0)
    second = Staff(app_client, demo_shop, "agent", 1)
    accepted = first.post(f"/api/v1/conversations/{conversation_id}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["assignee"]["id"] == first.id
    late = second.post(f"/api/v1/conversations/{conversation_id}/accept")
    assert late.status_code == 409
    assert late.json()["error"] == "already_taken"


def test_two_agents_accepting_at_the_same_moment_exactly_one_wins(
    app_client, demo_shop, database_url, sync_engine
):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    usernames = [demo_shop.login("agent", i).username for i in (0, 1)]

    async def race() -> list[object]:
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)

        async def accept(username: str) -> object:
            async with transaction(sessions) as session:
                from sqlalchemy import select

                user = await session.scalar(select(User).where(User.username == username))
                assert user is not None
                conversation = await service.access_conversation(session, user, conversation_id)
                await service.accept_conversation(
                    session, conversation=conversation, user=user, actor=actor_for(user)
                )
                await asyncio.sleep(0.2)  # hold the transaction open while the other tries
                return user.id

        try:
            return await asyncio.gather(*(accept(u) for u in usernames), return_exceptions=True)
        finally:
            await engine.dispose()

    outcomes = asyncio.run(race())
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assignee = rows(
        sync_engine, "select assignee_id from conversation where id = :i", i=conversation_id
    )
    assert assignee[0][0] == winners[0]


def test_agent_reply_reaches_the_customer_and_internal_note_never_does(app_client, demo_shop):
    conversation_id, token = queued_conversation(app_client, demo_shop)
    agent = Staff(app_client, demo_shop, "agent")
    assert agent.post(f"/api/v1/conversations/{conversation_id}/accept").status_code == 200
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws, token, last_message_id=10**9)
        assert ready["conversation_id"] == conversation_id
        note = agent.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": "内部备注：老客户，优先处理", "internal": True},
        )
        assert note.status_code == 200, note.text
        assert note.json()["internal"] is True
        reply = agent.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": "您好，我是客服小美", "client_msg_id": "r-1"},
        )
        assert reply.status_code == 200
        got = frames_until(ws, "message.created", where=message_from("agent"))
    bodies = [f["message"]["body"] for f in got if f["type"] == "message.created"]
    assert "您好，我是客服小美" in bodies
    assert not any("内部备注" in b for b in bodies)
    assert got[-1]["message"]["sender_name"] == demo_shop.login("agent").display_name
    # Resume from the start: the note is still not among what the customer receives.
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws, token, last_message_id=0)
        backlog = frames_until(ws, "message.created", where=message_from("agent"))
    assert not any("内部备注" in str(f) for f in backlog)
    # Staff see both, the note marked internal.
    detail = agent.get(f"/api/v1/conversations/{conversation_id}").json()
    kinds = {m["body"]: m["internal"] for m in detail["messages"]}
    assert kinds["内部备注：老客户，优先处理"] is True
    assert kinds["您好，我是客服小美"] is False


def test_agent_reply_with_same_client_msg_id_is_stored_once(app_client, demo_shop, sync_engine):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    agent = Staff(app_client, demo_shop, "agent")
    agent.post(f"/api/v1/conversations/{conversation_id}/accept")
    url = f"/api/v1/conversations/{conversation_id}/messages"
    one = agent.post(url, json={"body": "稍等", "client_msg_id": "dup"}).json()
    two = agent.post(url, json={"body": "稍等", "client_msg_id": "dup"}).json()
    assert one["id"] == two["id"]
    assert (
        len(
            rows(
                sync_engine,
                "select id from message where client_msg_id = 'dup' and conversation_id = :c",
                c=conversation_id,
            )
        )
        == 1
    )


def test_reply_needs_an_accepted_conversation_assigned_to_the_agent(app_client, demo_shop):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    first = Staff(app_client, demo_shop, "agent", 0)
    second = Staff(app_client, demo_shop, "agent", 1)
    url = f"/api/v1/conversations/{conversation_id}/messages"
    early = first.post(url, json={"body": "hi"})
    assert early.status_code == 409
    first.post(f"/api/v1/conversations/{conversation_id}/accept")
    other = second.post(url, json={"body": "我来回复"})
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden"
    empty = first.post(url, json={"body": "   "})
    assert (empty.status_code, empty.json()["error"]) == (422, "empty_message")
    long = first.post(url, json={"body": "x" * 4001})
    assert (long.status_code, long.json()["error"]) == (422, "too_long")


def test_transfer_moves_the_conversation_to_another_agent_and_is_audited(
    app_client, demo_shop, sync_engine
):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    first = Staff(app_client, demo_shop, "agent", 0)
    second = Staff(app_client, demo_shop, "agent", 1)
    third = Staff(app_client, demo_shop, "agent", 2)
    first.post(f"/api/v1/conversations/{conversation_id}/accept")
    denied = third.post(
        f"/api/v1/conversations/{conversation_id}/transfer", json={"agent_id": third.id}
    )
    assert denied.status_code == 403
    with second.socket() as staff_ws:
        frames_until(staff_ws, "ready")
        moved = first.post(
            f"/api/v1/conversations/{conversation_id}/transfer", json={"agent_id": second.id}
        )
        assert moved.status_code == 200, moved.text
        assigned = frames_until(staff_ws, "conversation.assigned")[-1]
    assert assigned["conversation"]["id"] == conversation_id
    assert moved.json()["assignee"]["id"] == second.id
    mine = second.get("/api/v1/conversations?view=mine").json()
    assert conversation_id in [r["id"] for r in mine]
    assert conversation_id not in [
        r["id"] for r in first.get("/api/v1/conversations?view=mine").json()
    ]
    # Now only the new assignee (or a supervisor) may reply.
    url = f"/api/v1/conversations/{conversation_id}/messages"
    assert first.post(url, json={"body": "还是我"}).status_code == 403
    assert second.post(url, json={"body": "我接手了"}).status_code == 200
    audit = rows(
        sync_engine,
        "select actor_id from audit_entry where action = 'conversation.transferred' "
        "and entity_id = :e",
        e=str(conversation_id),
    )
    assert [a[0] for a in audit] == [first.id]


def test_transfer_to_staff_of_another_shop_is_not_found(app_client, demo_shop):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    supervisor = Staff(app_client, demo_shop, "supervisor")
    bad = supervisor.post(
        f"/api/v1/conversations/{conversation_id}/transfer", json={"agent_id": 10**9}
    )
    assert bad.status_code == 404


def test_close_tells_the_customer_and_asks_for_a_rating_stored_once(
    app_client, demo_shop, sync_engine
):
    conversation_id, token = queued_conversation(app_client, demo_shop)
    agent = Staff(app_client, demo_shop, "agent")
    agent.post(f"/api/v1/conversations/{conversation_id}/accept")
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws, token, last_message_id=10**9)
        ws.send_json({"type": "rating", "rating": 5})
        assert frames_until(ws, "error")[-1]["code"] == "not_closed"
        closed = agent.post(f"/api/v1/conversations/{conversation_id}/close")
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed"
        survey = frames_until(ws, "conversation.closed")[-1]
        assert survey["survey"] is True
        ws.send_json({"type": "rating", "rating": 5, "comment": "很满意 <b>谢谢</b>"})
        saved = frames_until(ws, "rating.saved")[-1]
        assert saved["rating"] == 5
        ws.send_json({"type": "rating", "rating": 1})
        again = frames_until(ws, "error")[-1]
        assert again["code"] == "already_rated"
    stored = rows(
        sync_engine,
        "select rating, comment from survey_response where conversation_id = :c",
        c=conversation_id,
    )
    assert [tuple(r) for r in stored] == [(5, "很满意 <b>谢谢</b>")]
    detail = agent.get(f"/api/v1/conversations/{conversation_id}").json()
    assert detail["rating"]["rating"] == 5
    again_close = agent.post(f"/api/v1/conversations/{conversation_id}/close")
    assert again_close.status_code == 409


def test_customer_writing_after_close_starts_a_new_conversation(app_client, demo_shop):
    conversation_id, token = queued_conversation(app_client, demo_shop)
    supervisor = Staff(app_client, demo_shop, "supervisor")
    assert supervisor.post(f"/api/v1/conversations/{conversation_id}/close").status_code == 200
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        ready = hello(ws, token, last_message_id=10**9)
        assert (ready["conversation_id"], ready["status"]) == (conversation_id, "closed")
        assert frames_until(ws, "conversation.closed")[-1]["survey"] is True
        ack = say(ws, "我又来了，想问下发票")
        fresh = frames_until(ws, "message.created", where=message_from("bot"))
    assert ack["message_id"] > 0
    assert fresh[-1]["message"]["conversation_id"] != conversation_id


def test_other_shops_conversation_is_not_found_for_every_route(app_client, demo_shop):
    from tests.conftest import run_async
    from xiaoer.demo.seed import seed_demo_shop

    conversation_id, _ = queued_conversation(app_client, demo_shop)
    suffix = uuid.uuid4().hex[:8]
    settings = app_client.app.state.settings  # type: ignore[attr-defined]

    async def other_shop():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await seed_demo_shop(
                    session, slug=f"other-{suffix}", username_prefix=f"o{suffix}-", history=False
                )
        finally:
            await engine.dispose()

    other = run_async(other_shop())
    outsider = Staff(app_client, other, "admin")
    base = f"/api/v1/conversations/{conversation_id}"
    for method, url, body in [
        ("get", base, None),
        ("get", f"{base}/messages", None),
        ("get", f"{base}/suggestions", None),
        ("post", f"{base}/accept", None),
        ("post", f"{base}/messages", {"body": "hi"}),
        ("post", f"{base}/typing", None),
        ("post", f"{base}/read", {"message_id": 1}),
        ("post", f"{base}/transfer", {"agent_id": outsider.id}),
        ("post", f"{base}/close", None),
    ]:
        response = (
            getattr(outsider, method)(url, json=body) if body else getattr(outsider, method)(url)
        )
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"] == "not_found"
    with outsider.socket() as staff_ws:
        frames_until(staff_ws, "ready")
        staff_ws.send_json({"type": "watch", "conversation_id": conversation_id})
        assert frames_until(staff_ws, "error")[-1]["code"] == "not_found"


def test_staff_api_needs_login_and_csrf(app_client, demo_shop):
    assert app_client.get("/api/v1/conversations").status_code == 401
    agent = Staff(app_client, demo_shop, "agent")
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    no_csrf = app_client.post(f"/api/v1/conversations/{conversation_id}/accept")
    assert no_csrf.status_code == 403
    assert agent.get("/api/v1/conversations?view=bogus").status_code == 422


def test_read_marker_clears_the_unread_badge(app_client, demo_shop):
    conversation_id, _ = queued_conversation(app_client, demo_shop)
    agent = Staff(app_client, demo_shop, "agent")
    detail = agent.get(f"/api/v1/conversations/{conversation_id}").json()
    assert detail["unread"] == 1
    newest = detail["messages"][-1]["id"]
    assert (
        agent.post(
            f"/api/v1/conversations/{conversation_id}/read", json={"message_id": newest}
        ).status_code
        == 204
    )
    assert agent.get(f"/api/v1/conversations/{conversation_id}").json()["unread"] == 0
    # Another agent's badge is their own.
    other = Staff(app_client, demo_shop, "agent", 1)
    assert other.get(f"/api/v1/conversations/{conversation_id}").json()["unread"] == 1


def test_staff_socket_gets_queue_frames_and_watched_conversation_messages(app_client, demo_shop):
    agent = Staff(app_client, demo_shop, "agent")
    with agent.socket() as staff_ws:
        assert frames_until(staff_ws, "ready")[-1]["user_id"] == agent.id
        conversation_id, token = queued_conversation(app_client, demo_shop)
        queued = frames_until(staff_ws, "conversation.queued")[-1]
        assert queued["conversation"]["id"] == conversation_id
        staff_ws.send_json({"type": "watch", "conversation_id": conversation_id})
        frames_until(staff_ws, "watching")
        agent.post(f"/api/v1/conversations/{conversation_id}/accept")
        agent.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": "仅内部可见", "internal": True},
        )
        note = frames_until(staff_ws, "message.created", where=lambda f: f["message"]["internal"])
        assert note[-1]["message"]["body"] == "仅内部可见"
        with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
            hello(ws, token, last_message_id=10**9)
            ws.send_json({"type": "typing"})
            typing = frames_until(staff_ws, "typing")[-1]
            assert typing == {
                "type": "typing",
                "conversation_id": conversation_id,
                "sender_type": "customer",
            }
            say(ws, "<img src=x onerror=alert(1)>")
            got = frames_until(staff_ws, "message.created", where=message_from("customer"))
            assert got[-1]["message"]["body"] == "<img src=x onerror=alert(1)>"
            staff_ws.send_json({"type": "typing", "conversation_id": conversation_id})
            assert frames_until(ws, "typing")[-1]["sender_type"] == "agent"
        staff_ws.send_text("{bad json")
        assert frames_until(staff_ws, "error")[-1]["code"] == "malformed"


def test_staff_socket_refuses_missing_session_and_foreign_origin(app_client, demo_shop):
    with app_client.websocket_connect("/ws/agent") as ws:
        assert frames_until(ws, "error")[-1]["code"] == "unauthorized"
    agent = Staff(app_client, demo_shop, "agent")
    agent._use()
    with app_client.websocket_connect(
        "/ws/agent", headers={"origin": "https://evil.example"}
    ) as ws:
        assert frames_until(ws, "error")[-1]["code"] == "unauthorized"


def test_suggestions_offer_scripts_for_the_latest_customer_message(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        hello(ws)
        ack = say(ws, "可以开发票吗")
    agent = Staff(app_client, demo_shop, "agent")
    conversation_id = rows_conversation(app_client, ack["message_id"])
    found = agent.get(f"/api/v1/conversations/{conversation_id}/suggestions")
    assert found.status_code == 200
    items = found.json()
    assert 1 <= len(items) <= 3
    assert {"script_id", "title", "text", "score", "variant", "channel", "success"} <= set(items[0])
    assert items[0]["channel"] == "im"  # the web chat uses the IM wording


def rows_conversation(app_client, message_id: int) -> int:
    settings = app_client.app.state.settings
    from sqlalchemy import create_engine, text

    from xiaoer.migrate import sync_url

    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("select conversation_id from message where id = :i"), {"i": message_id}
                ).scalar_one()
            )
    finally:
        engine.dispose()
