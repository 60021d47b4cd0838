"""Agent assist in a real browser (issue 3 §7): an angry customer, three suggestions, the red
panel with the calming pack, a live lint block on 全网最低价, a refused send, a supervisor
override from the dialog that reaches the customer and the audit log, the `/` pinyin search,
and a proposal from a customer message. Screenshots land in `test-artifacts/`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import Engine

from tests.e2e.test_workspace_ui import (  # noqa: F401 - fixtures
    AgentPage,
    Customer,
    customers,
    open_agent,
    queued_customer,
)
from tests.web.data import rows

pytestmark = pytest.mark.e2e

ANGRY = "你们这是什么垃圾服务，气死我了！！"
BLOCKED = "请您理解，我们家已经是全网最低价了"


def test_agent_gets_assist_lint_block_and_supervisor_override(
    open_agent: Callable[..., AgentPage],  # noqa: F811
    customers: Callable[[str], Customer],  # noqa: F811
    demo_shop: Any,
    sync_engine: Engine,
) -> None:
    agent = open_agent(demo_shop.login("agent"))
    page = agent.page

    # A customer asks for a person, then gets angry while waiting.
    customer, cid = queued_customer(customers, demo_shop)
    customer.say(ANGRY)
    agent.row(cid).get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("chat-status")).to_have_text("接待中")

    # Three ranked suggestions; the panel turns red with the calming pack.
    expect(page.get_by_test_id("suggestion")).to_have_count(3)
    panel = page.get_by_test_id("assist-panel")
    expect(panel).to_have_attribute("data-alert", "true")
    expect(page.get_by_test_id("emotion-label")).to_have_text("客户情绪：愤怒")
    calming = page.get_by_test_id("calming-script")
    expect(calming).to_have_count(6)
    expect(calming.filter(has_text="安抚愤怒客户")).to_have_count(1)
    agent.shot("assist-angry-panel")

    # The live lint blocks 全网最低价 and, the customer being angry, 请您理解.
    reply = page.get_by_test_id("reply-box")
    reply.click()
    page.keyboard.type(BLOCKED)
    findings = page.get_by_test_id("lint-finding")
    expect(findings.filter(has_text="全网最低价")).to_have_attribute("data-severity", "block")
    expect(findings.filter(has_text="请您理解")).to_have_attribute("data-severity", "block")
    expect(findings.first).to_contain_text("建议")
    agent.shot("assist-live-lint")

    # Sending is refused: nothing stored, the text stays, the override is offered.
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("override-button")).to_be_visible()
    expect(reply).to_have_value(BLOCKED)
    expect(page.locator('[data-testid="message"][data-sender="agent"]')).to_have_count(0)
    assert (
        rows(
            sync_engine,
            "select id from message where conversation_id = :c and sender_type = 'agent'",
            c=cid,
        )
        == []
    )

    # A wrong supervisor password is refused in the dialog; the right one sends the reply.
    supervisor = demo_shop.login("supervisor")
    page.get_by_test_id("override-button").click()
    dialog = page.get_by_test_id("override-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("override-username").fill(supervisor.username)
    dialog.get_by_test_id("override-password").fill("not-the-password")
    dialog.get_by_test_id("override-submit").click()
    expect(dialog.get_by_test_id("override-error")).not_to_be_empty()
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("override-password").fill(supervisor.password)
    agent.shot("assist-override-dialog")
    dialog.get_by_test_id("override-submit").click()
    expect(dialog).to_be_hidden()
    expect(page.locator('[data-testid="message"][data-sender="agent"]')).to_have_text(
        re.compile("全网最低价")
    )
    expect(reply).to_have_value("")
    got = customer.until(
        lambda f: f["type"] == "message.created" and f["message"]["sender_type"] == "agent"
    )
    assert got["message"]["body"] == BLOCKED

    entries = rows(
        sync_engine,
        "select after from audit_entry where shop_id = :s and action = 'reply.lint_override'",
        s=demo_shop.shop_id,
    )
    assert len(entries) == 1
    after = entries[0][0] if isinstance(entries[0][0], dict) else json.loads(entries[0][0])
    assert after["text"] == BLOCKED
    assert after["approved_by"]["username"] == supervisor.username
    assert {f["rule"] for f in after["findings"]} == {"misleading_claim", "angry_banned_phrase"}
    refused = rows(
        sync_engine,
        "select id from audit_entry where shop_id = :s and action = 'reply.lint_override_refused'",
        s=demo_shop.shop_id,
    )
    assert len(refused) == 1
    agent.shot("assist-override-sent")

    # "/" in the empty box opens the search; pinyin initials find the script; Enter inserts it.
    reply.click()
    page.keyboard.press("/")
    search = page.get_by_test_id("script-search")
    expect(search).to_be_visible()
    page.keyboard.type("cxwl")
    first = page.get_by_test_id("script-search-item").first
    expect(first).to_contain_text("查询物流进度")
    agent.shot("assist-search")
    page.keyboard.press("Enter")
    expect(search).to_be_hidden()
    expect(reply).to_have_value(re.compile(r"^亲，帮您查到了：订单 XE\d+"))
    # A "/" typed inside text is just a slash.
    page.keyboard.type(" 1/2")
    expect(search).to_be_hidden()
    expect(reply).to_have_value(re.compile(r" 1/2$"))

    # One click proposes the angry message as a new script for the supervisors' review.
    angry = page.locator('[data-testid="message"][data-sender="customer"]').filter(has_text=ANGRY)
    angry.hover()
    angry.get_by_test_id("propose-script").click()
    expect(page.get_by_test_id("toast").filter(has_text="等待主管审核")).to_be_visible()
    proposals = rows(
        sync_engine,
        "select kind, question from script_proposal where conversation_id = :c",
        c=cid,
    )
    assert [tuple(p) for p in proposals] == [("new_script", ANGRY)]
