"""Customer ratings of closed conversations: stored once, readable by the shop's staff only."""

from __future__ import annotations

import uuid

from tests.conversations.chat import Staff, frames_until, hello


def closed_conversation(app_client, demo_shop) -> tuple[int, str]:
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws)["visitor_token"]
        ws.send_json(
            {"type": "message", "client_msg_id": str(uuid.uuid4()), "body": "人工", "handoff": True}
        )
        conversation_id = frames_until(ws, "handoff")[-1]["conversation_id"]
    supervisor = Staff(app_client, demo_shop, "supervisor")
    assert supervisor.post(f"/api/v1/conversations/{conversation_id}/close").status_code == 200
    return conversation_id, token


def test_rating_over_http_is_stored_once_and_a_second_one_is_409(app_client, demo_shop):
    conversation_id, token = closed_conversation(app_client, demo_shop)
    url = f"/api/v1/chat/{demo_shop.slug}/rating"
    first = app_client.post(url, json={"visitor_token": token, "rating": 4, "comment": "还行"})
    assert first.status_code == 201, first.text
    assert (first.json()["conversation_id"], first.json()["rating"]) == (conversation_id, 4)
    second = app_client.post(url, json={"visitor_token": token, "rating": 1})
    assert second.status_code == 409
    assert second.json()["error"] == "already_rated"


def test_rating_of_an_open_conversation_is_refused(app_client, demo_shop):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws:
        token = hello(ws)["visitor_token"]
        ws.send_json({"type": "message", "client_msg_id": "o1", "body": "你好"})
        frames_until(ws, "ack")
    response = app_client.post(
        f"/api/v1/chat/{demo_shop.slug}/rating", json={"visitor_token": token, "rating": 5}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "not_closed"


def test_bad_rating_input_is_a_clear_422_and_unknown_visitor_404(app_client, demo_shop):
    url = f"/api/v1/chat/{demo_shop.slug}/rating"
    bad = app_client.post(url, json={"visitor_token": "x" * 20, "rating": 6})
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_input"
    unknown = app_client.post(url, json={"visitor_token": "y" * 20, "rating": 5})
    assert unknown.status_code == 404


def test_staff_read_ratings_by_conversation_and_customer(app_client, demo_shop):
    conversation_id, token = closed_conversation(app_client, demo_shop)
    app_client.post(
        f"/api/v1/chat/{demo_shop.slug}/rating", json={"visitor_token": token, "rating": 5}
    )
    agent = Staff(app_client, demo_shop, "agent")
    by_conversation = agent.get(f"/api/v1/surveys?conversation_id={conversation_id}").json()
    assert [r["rating"] for r in by_conversation] == [5]
    customer_id = by_conversation[0]["customer_id"]
    by_customer = agent.get(f"/api/v1/surveys?customer_id={customer_id}").json()
    assert [r["conversation_id"] for r in by_customer] == [conversation_id]
    assert agent.get("/api/v1/surveys").status_code == 422
    assert app_client.cookies.clear() is None
    assert app_client.get(f"/api/v1/surveys?conversation_id={conversation_id}").status_code == 401


def test_ratings_of_another_shops_ticket_or_customer_are_not_found(
    app_client, demo_shop, other_shop
):
    conversation_id, token = closed_conversation(app_client, demo_shop)
    app_client.post(
        f"/api/v1/chat/{demo_shop.slug}/rating", json={"visitor_token": token, "rating": 4}
    )
    agent = Staff(app_client, demo_shop, "agent")
    customer_id = agent.get(f"/api/v1/surveys?conversation_id={conversation_id}").json()[0][
        "customer_id"
    ]
    ticket = agent.post("/api/v1/tickets", json={"conversation_id": conversation_id})
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["id"]
    assert [r["rating"] for r in agent.get(f"/api/v1/surveys?ticket_id={ticket_id}").json()] == [4]

    stranger = Staff(app_client, other_shop, "supervisor")
    for query in (f"ticket_id={ticket_id}", f"customer_id={customer_id}"):
        response = stranger.get(f"/api/v1/surveys?{query}")
        assert response.status_code == 404, (query, response.text)
        assert response.json()["error"] == "not_found"
