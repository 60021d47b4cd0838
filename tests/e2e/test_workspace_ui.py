"""The agent workspace in a real browser (Debian chromium) against a real server process.

A uvicorn subprocess serves the app on a free port against the test database; customers talk
to it over the real widget WebSocket (`websockets`), agents through the page. Screenshots land
in `test-artifacts/`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import text
from sqlalchemy.engine import Engine
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import ARTIFACTS
from tests.web.login import login

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
WAIT_ZH = re.compile(r"^等待 (\d+秒|\d+分\d+秒)$")


# --------------------------------------------------------------------------- agent pages


class AgentPage:
    """A logged-in agent's browser page; records JS dialogs and page errors."""

    def __init__(
        self,
        browser: Browser,
        base: str,
        username: str,
        password: str,
        *,
        lang: str | None = None,
        before_login: Callable[[Page], None] | None = None,
    ):
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        if before_login:
            before_login(self.page)
        self.page.goto(f"{base}/login" + (f"?lang={lang}" if lang else ""))
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.locator("form button[type=submit]").first.click()
        self.page.wait_for_url(re.compile(r"/workspace"))
        expect(self.page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "online"
        )

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def row(self, conversation_id: int) -> Locator:
        return self.page.locator(
            f'[data-testid="queue-item"][data-conversation-id="{conversation_id}"]'
        )

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_agent(browser: Browser, server: str) -> Iterator[Callable[..., AgentPage]]:
    pages: list[AgentPage] = []

    def open_(account: Any, **kw: Any) -> AgentPage:
        page = AgentPage(browser, server, account.username, account.password, **kw)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        assert not page.errors, f"JavaScript errors on the page: {page.errors}"
        page.close()


# --------------------------------------------------------------------------- customer widget


class Customer:
    """A customer on the real widget WebSocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.conversation_id: int | None = None
        self.send(type="hello")
        self.until(lambda f: f["type"] == "ready")

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def until(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10, *, seen: bool = False
    ) -> dict[str, Any]:
        """The next frame for which `pred` holds (with `seen`, also one received before)."""
        if seen:
            for frame in self.seen:
                if pred(frame):
                    return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"frame not received; seen: {self.seen[-10:]}")
            try:
                frame = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            self.seen.append(frame)
            if frame.get("type") == "message.created":
                self.conversation_id = frame["message"]["conversation_id"]
            if pred(frame):
                return frame

    def say(self, body: str, *, handoff: bool = False) -> int:
        cid = uuid.uuid4().hex
        self.send(type="message", client_msg_id=cid, body=body, handoff=handoff)
        ack = self.until(lambda f: f["type"] == "ack" and f["client_msg_id"] == cid)
        return int(ack["message_id"])

    def verify(self, order_no: str, phone: str) -> None:
        """Proves to be the order's customer: its number and the phone's last four digits."""
        self.send(type="verify", method="order", order_no=order_no, phone_last4=phone[-4:])
        self.until(lambda f: f["type"] == "verified")


@pytest.fixture
def customers(server: str) -> Iterator[Callable[[str], Customer]]:
    with contextlib.ExitStack() as stack:

        def open_(slug: str) -> Customer:
            url = server.replace("http://", "ws://", 1) + f"/ws/chat/{slug}"
            return Customer(stack.enter_context(connect(url, open_timeout=10)))

        yield open_


def queued_customer(
    customers: Callable[[str], Customer], demo_shop: Any, *, identify: bool = True
) -> tuple[Customer, int]:
    """A customer handed over to the queue (the demo shop's sample VIP customer, unless
    `identify` is off), with the conversation's id."""
    customer = customers(demo_shop.slug)
    if identify:
        customer.verify(
            next(iter(demo_shop.sample_order_nos.values())), demo_shop.sample_customer_phone
        )
    customer.say("你好，我要找人工客服", handoff=True)
    customer.until(
        lambda f: (
            f["type"] == "handoff"
            or (
                f["type"] == "message.created"
                and f["message"].get("i18n", {}).get("key")
                in ("conversations.system.queued", "conversations.system.queued_next")
            )
        ),
        seen=True,
    )
    assert customer.conversation_id is not None
    return customer, customer.conversation_id


def customer_name(sync_engine: Engine, demo_shop: Any) -> str:
    with sync_engine.connect() as conn:
        return str(
            conn.execute(
                text("select name from customer where id = :id"),
                {"id": demo_shop.sample_customer_id},
            ).scalar_one()
        )


# --------------------------------------------------------------------------- tests


def test_workspace_requires_login(browser: Browser, server: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}/workspace")
    assert re.search(r"/login\?next=/workspace", page.url), page.url
    context.close()


def test_agent_accepts_replies_and_notes_in_realtime(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
    sync_engine: Engine,
) -> None:
    agent = open_agent(demo_shop.login("agent"))
    page = agent.page

    # A customer asks for a person while the page is open: the row arrives over /ws/agent.
    customer, cid = queued_customer(customers, demo_shop)
    customer.say(XSS)
    row = agent.row(cid)
    expect(row).to_be_visible()
    expect(row.get_by_test_id("customer-name")).to_have_text(customer_name(sync_engine, demo_shop))
    expect(row.get_by_test_id("vip-badge")).to_have_text("VIP")
    expect(row.get_by_test_id("unread-badge")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(row.get_by_test_id("preview")).to_have_text(XSS)
    wait = row.get_by_test_id("wait")
    expect(wait).to_have_text(WAIT_ZH)
    first = wait.text_content()
    expect(wait).not_to_have_text(first or "", timeout=4000)  # live, without a refetch
    expect(page.get_by_test_id("count-queue")).to_have_text(re.compile(r"^[1-9]"))
    agent.shot("workspace-queue")

    # Accept: the conversation opens in "mine", with the bot's part and the XSS as plain text.
    row.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("tab-mine")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("chat-status")).to_have_text("接待中")
    expect(agent.row(cid).get_by_test_id("unread-badge")).to_have_count(0)
    messages = page.get_by_test_id("message")
    expect(messages.filter(has_text=XSS)).to_have_count(1)
    expect(messages.filter(has_text=XSS).locator(".ws-msg-bubble")).to_have_text(XSS)
    assert page.locator("#ws-messages img, #ws-items img").count() == 0
    expect(page.locator('[data-testid="message"][data-sender="system"]').first).to_be_visible()
    customer.until(
        lambda f: (
            f["type"] == "message.created"
            and f["message"]["sender_type"] == "system"
            and "客服" in f["message"]["body"]
        )
    )

    # Typing reaches the customer; Enter sends; the customer gets the reply.
    reply = page.get_by_test_id("reply-box")
    expect(reply).to_be_enabled()
    reply.click()
    page.keyboard.type("您好，我是客服")
    customer.until(lambda f: f["type"] == "typing" and f.get("sender_type") == "agent")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("马上为您查询订单")
    expect(reply).to_have_value("您好，我是客服\n马上为您查询订单")
    page.keyboard.press("Enter")
    expect(reply).to_have_value("")
    sent = customer.until(
        lambda f: f["type"] == "message.created" and f["message"]["sender_type"] == "agent"
    )
    assert sent["message"]["body"] == "您好，我是客服\n马上为您查询订单"
    agent_msgs = page.locator('[data-testid="message"][data-sender="agent"]')
    expect(agent_msgs).to_have_count(1)  # the pending bubble became the stored one, no duplicate
    expect(agent_msgs.first).not_to_have_class(re.compile("is-pending"))

    # An internal note: yellow, marked, stored as a note and never sent to the customer.
    page.get_by_test_id("note-toggle").click()
    expect(page.get_by_test_id("note-toggle")).to_have_attribute("aria-pressed", "true")
    reply.fill("顾客情绪一般，注意安抚")
    page.get_by_test_id("send-button").click()
    note = page.locator('[data-testid="message"][data-sender="note"]')
    expect(note).to_have_count(1)
    expect(note.get_by_test_id("note-badge")).to_have_text("内部备注")
    agent.shot("workspace-note")

    # The customer writes again: it appears live, suggestions are refetched for it.
    customer.send(type="typing")
    expect(page.get_by_test_id("customer-typing")).to_be_visible()
    customer.say("请问怎么开发票？")
    expect(messages.filter(has_text="请问怎么开发票？")).to_have_count(1)
    expect(page.get_by_test_id("customer-typing")).to_be_hidden()
    suggestion = page.get_by_test_id("suggestion").first
    expect(suggestion).to_be_visible()
    page.get_by_test_id("note-toggle").click()  # back to replying
    suggestion_text = suggestion.locator(".ws-sugg-text").text_content() or ""
    assert suggestion_text.strip()
    suggestion.click()
    expect(reply).to_have_value(suggestion_text)
    expect(reply).to_be_focused()
    agent.shot("workspace-chat")

    # Nothing the customer received was the note; the database has it as a note.
    customer.say("好的谢谢")
    customer.until(lambda f: f["type"] == "message.created" and f["message"]["body"] == "好的谢谢")
    assert all("注意安抚" not in json.dumps(f, ensure_ascii=False) for f in customer.seen)
    with sync_engine.connect() as conn:
        kinds: dict[str, str] = dict(
            conn.execute(
                text("select body, sender_type from message where conversation_id = :c"),
                {"c": cid},
            ).all()
        )
    assert kinds["顾客情绪一般，注意安抚"] == "note"
    assert kinds["您好，我是客服\n马上为您查询订单"] == "agent"
    assert agent.dialogs == [], "a chat message ran script in the page"


def test_second_agent_sees_conflict_toast_when_conversation_was_taken(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
    server: str,
) -> None:
    # Agent 1's live socket is held back, so their queue still shows the row after agent 2
    # takes it: exactly the race of two agents clicking at once.
    def cut_live_updates(page: Page) -> None:
        page.route_web_socket(re.compile(r"/ws/agent$"), lambda ws: None)

    _customer, cid = queued_customer(customers, demo_shop)
    # A mocked socket opens but stays silent: the page loads its lists and reports "online".
    page_owner = open_agent(demo_shop.login("agent", 0), before_login=cut_live_updates)
    row = page_owner.row(cid)
    expect(row).to_be_visible()

    other = demo_shop.login("agent", 1)
    with httpx.Client(base_url=server) as client:
        csrf = login(client, other.username, other.password)  # type: ignore[arg-type]
        taken = client.post(f"/api/v1/conversations/{cid}/accept", headers={"X-CSRF-Token": csrf})
        assert taken.status_code == 200, taken.text

    row.get_by_test_id("accept-button").click()
    expect(
        page_owner.page.get_by_test_id("toast").filter(has_text="已被其他客服接入")
    ).to_be_visible()
    expect(page_owner.page.get_by_test_id("tab-queue")).to_have_attribute("aria-selected", "true")
    expect(row).to_have_count(0)  # the queue was refreshed
    page_owner.shot("workspace-accept-conflict")


def test_transfer_ticket_and_close(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
    sync_engine: Engine,
) -> None:
    customer, cid = queued_customer(customers, demo_shop)
    agent = open_agent(demo_shop.login("agent", 0))
    page = agent.page
    agent.row(cid).get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("接待中")

    # Create a ticket: its number shows, linking to the ticket page.
    page.get_by_test_id("create-ticket-button").click()
    link = page.get_by_test_id("ticket-link")
    expect(link).to_have_count(1)
    with sync_engine.connect() as conn:
        ticket_id, number = conn.execute(
            text("select id, number from ticket where conversation_id = :c"), {"c": cid}
        ).one()
    expect(link).to_have_text(number)
    expect(link).to_have_attribute("href", f"/tickets/{ticket_id}")

    # Transfer to another agent through the picker.
    target = demo_shop.login("agent", 1)
    page.get_by_test_id("transfer-button").click()
    choice = page.get_by_test_id("transfer-agent").filter(has_text=target.display_name)
    expect(choice).to_have_count(1)
    agent.shot("workspace-transfer")
    choice.click()
    expect(
        page.get_by_test_id("toast").filter(has_text=f"已转接给 {target.display_name}")
    ).to_be_visible()
    expect(page.locator("#ws-head-assignee")).to_have_text(f"接待客服：{target.display_name}")
    with sync_engine.connect() as conn:
        assignee = conn.execute(
            text(
                "select u.username from conversation c join user_account u "
                "on u.id = c.assignee_id where c.id = :c"
            ),
            {"c": cid},
        ).scalar_one()
    assert assignee == target.username
    # No longer theirs: the first agent may only add notes now.
    expect(page.get_by_test_id("reply-box")).to_be_hidden()
    page.get_by_test_id("write-note-button").click()
    page.get_by_test_id("reply-box").fill("已转给小杰处理")
    page.keyboard.press("Enter")
    expect(page.locator('[data-testid="message"][data-sender="note"]')).to_have_count(1)

    # The new owner closes it; the customer is asked for a rating.
    owner = open_agent(target)
    owner.page.get_by_test_id("tab-mine").click()
    owner.row(cid).locator(".ws-item-main").click()
    expect(owner.page.get_by_test_id("chat-status")).to_have_text("接待中")
    owner.page.get_by_test_id("close-button").click()
    expect(owner.page.get_by_test_id("chat-status")).to_have_text("已结束")
    expect(owner.page.get_by_test_id("close-button")).to_be_disabled()
    customer.until(lambda f: f["type"] == "conversation.closed" and f.get("survey") is True)
    # The first agent's page follows along live.
    expect(page.get_by_test_id("chat-status")).to_have_text("已结束")

    # The customer's rating shows on the conversation (the address keeps it open on reload).
    customer.send(type="rating", rating=4, comment="还不错")
    customer.until(lambda f: f["type"] == "rating.saved")
    owner.page.reload()
    expect(owner.page.get_by_test_id("chat-rating")).to_contain_text("顾客评分 4/5")
    expect(owner.page.get_by_test_id("chat-rating")).to_contain_text("还不错")


def test_workspace_in_english_and_keyboard(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
) -> None:
    _customer, cid = queued_customer(customers, demo_shop)
    agent = open_agent(demo_shop.login("agent", 0), lang="en")
    page = agent.page
    expect(page.get_by_test_id("tab-queue")).to_contain_text("Queue")
    expect(page.get_by_test_id("tab-open")).to_contain_text("All open")
    expect(page.get_by_test_id("connection-status")).to_have_text("Live")
    expect(agent.row(cid).get_by_test_id("wait")).to_have_text(re.compile(r"^Waiting \d+s$"))

    # Keyboard only: arrow through the tabs, then into the list, Enter opens the conversation.
    page.get_by_test_id("tab-queue").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("tab-mine")).to_be_focused()
    expect(page.get_by_test_id("tab-mine")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_test_id("tab-queue")).to_have_attribute("aria-selected", "true")
    agent.row(cid).locator(".ws-item-main").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("chat-status")).to_have_text("Queued")
    expect(page.get_by_test_id("reply-box")).to_be_hidden()  # accept first
    page.get_by_test_id("chat-accept-button").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("Active")
    page.get_by_test_id("reply-box").focus()
    page.keyboard.press("Alt+N")
    expect(page.get_by_test_id("note-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("send-button")).to_have_text("Add note")
    agent.shot("workspace-en")


def test_viewing_conversations_clears_their_unread_badges(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
) -> None:
    ids = [queued_customer(customers, demo_shop, identify=False)[1] for _ in range(2)]
    agent = open_agent(demo_shop.login("agent", 2))
    rows = [agent.row(cid) for cid in ids]
    for row in rows:
        expect(row.get_by_test_id("unread-badge")).to_have_text(re.compile(r"^[1-9]"))

    # Newest first, then the older one (whose message ids are lower).
    for row in reversed(rows):
        row.locator(".ws-item-main").click()
        expect(row).to_have_class(re.compile("is-selected"))
        expect(row.get_by_test_id("unread-badge")).to_have_count(0)

    # A reload shows the server agrees.
    agent.page.reload()
    for row in rows:
        expect(row).to_be_visible()
        expect(row.get_by_test_id("unread-badge")).to_have_count(0)
    # ?c= reopens the conversation that was open.
    expect(agent.page.get_by_test_id("chat-status")).to_have_text("排队中")

    # Unsent drafts stay with their conversation while the agent switches between chats.
    page = agent.page
    for row in rows:
        page.get_by_test_id("tab-queue").click()
        row.get_by_test_id("accept-button").click()
        expect(page.get_by_test_id("chat-status")).to_have_text("接待中")
    reply = page.get_by_test_id("reply-box")
    rows[0].locator(".ws-item-main").click()
    reply.fill("第一位顾客的草稿")
    rows[1].locator(".ws-item-main").click()
    expect(reply).to_have_value("")
    rows[0].locator(".ws-item-main").click()
    expect(reply).to_have_value("第一位顾客的草稿")


def test_reconnects_and_catches_up_on_missed_messages(
    open_agent: Callable[..., AgentPage],
    customers: Callable[[str], Customer],
    demo_shop: Any,
) -> None:
    # /ws/agent goes through a proxy the test controls: it can swallow frames and cut the line.
    live: dict[str, Any] = {"drop": False, "routes": []}

    def proxy(ws: Any) -> None:
        server = ws.connect_to_server()
        server.on_message(lambda message: None if live["drop"] else ws.send(message))
        live["routes"].append(ws)

    customer, cid = queued_customer(customers, demo_shop)
    agent = open_agent(
        demo_shop.login("agent", 0),
        before_login=lambda page: page.route_web_socket(re.compile(r"/ws/agent$"), proxy),
    )
    page = agent.page
    agent.row(cid).get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("接待中")
    customer.say("第一条")
    messages = page.get_by_test_id("message")
    expect(messages.filter(has_text="第一条")).to_have_count(1)

    # Frames are lost (a flaky network), then the socket drops.
    live["drop"] = True
    customer.say("断线期间发的消息")
    page.wait_for_timeout(800)
    expect(messages.filter(has_text="断线期间发的消息")).to_have_count(0)
    live["drop"] = False
    connections = len(live["routes"])
    live["routes"][-1].close()
    status = page.get_by_test_id("connection-status")
    expect(status).to_have_attribute("data-state", re.compile("offline|connecting"))

    # The page reconnects on its own and fetches what it missed, exactly once.
    expect(status).to_have_attribute("data-state", "online", timeout=15_000)
    assert len(live["routes"]) > connections
    expect(messages.filter(has_text="断线期间发的消息")).to_have_count(1)
    # The new socket is live again for this conversation.
    customer.say("重连之后")
    expect(messages.filter(has_text="重连之后")).to_have_count(1)
    expect(messages.filter(has_text="第一条")).to_have_count(1)
