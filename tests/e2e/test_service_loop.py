"""The whole service loop in a real browser (issue §12): a customer asks the bot about a real
order, asks for a person, an agent accepts with suggested scripts and replies, creates a ticket,
closes; the customer rates 5 and the rating shows on the ticket."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import ARTIFACTS
from xiaoer.commerce.service import SHIPMENT_STATUS_LABELS

pytestmark = pytest.mark.e2e


def _order_facts(sync_engine: Engine, shop_id: int, order_no: str) -> dict[str, Any]:
    with sync_engine.connect() as conn:
        row = conn.execute(
            text(
                "select s.carrier, s.status, s.tracking_no from shop_order o"
                " join shipment s on s.order_id = o.id"
                " where o.shop_id = :shop and o.order_no = :no order by s.id desc"
            ),
            {"shop": shop_id, "no": order_no},
        ).first()
    assert row is not None
    return {"carrier": row.carrier, "status": row.status, "tracking_no": row.tracking_no}


def test_customer_bot_agent_ticket_and_rating(
    browser: Browser, server: str, demo_shop: Any, sync_engine: Engine
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    order_no = demo_shop.sample_order_nos["in_transit"]
    facts = _order_facts(sync_engine, demo_shop.shop_id, order_no)
    errors: list[str] = []

    # The customer, on a phone-sized screen.
    customer_ctx = browser.new_context(viewport={"width": 390, "height": 780})
    widget = customer_ctx.new_page()
    widget.on("pageerror", lambda exc: errors.append(str(exc)))
    widget.set_default_timeout(15_000)
    widget.goto(f"{server}/chat/{demo_shop.slug}")
    # Not yet verified: the bot tells nothing about the order and asks the shopper to verify.
    widget.get_by_test_id("widget-input").fill(f"我的订单{order_no}到哪了")
    widget.get_by_test_id("widget-send").click()
    # The first answer waits for the shop's bot model to load.
    asked = widget.locator(".xw-msg.xw-bot").filter(has_text="验证身份")
    expect(asked).to_be_visible(timeout=30_000)
    expect(widget.get_by_test_id("widget-log")).not_to_contain_text(facts["tracking_no"])
    # The verification panel: a wrong digit is refused in place, the right ones verify.
    widget.get_by_test_id("widget-identify").locator("summary").click()
    widget.get_by_label("订单号", exact=True).fill(order_no.lower())
    last4 = demo_shop.sample_customer_phone[-4:]
    wrong = f"{(int(last4[0]) + 1) % 10}{last4[1:]}"
    widget.get_by_label("收件手机号后四位").fill(wrong)
    widget.get_by_test_id("verify-order-submit").click()
    expect(widget.get_by_test_id("verify-message")).to_contain_text("验证未通过")
    widget.get_by_label("收件手机号后四位").fill(last4)
    widget.get_by_test_id("verify-order-submit").click()
    expect(widget.get_by_test_id("widget-banner")).to_contain_text("已验证")
    widget.screenshot(path=str(ARTIFACTS / "loop-widget-verified.png"))
    widget.get_by_test_id("widget-input").fill(f"我的订单{order_no}到哪了")
    widget.get_by_test_id("widget-send").click()
    bot_reply = widget.locator(".xw-msg.xw-bot").filter(has_text=facts["carrier"]).last
    expect(bot_reply).to_contain_text(SHIPMENT_STATUS_LABELS[facts["status"]])
    expect(bot_reply).to_contain_text(facts["tracking_no"])
    widget.screenshot(path=str(ARTIFACTS / "loop-widget-bot-answer.png"))

    widget.get_by_test_id("widget-human").click()
    expect(widget.get_by_test_id("widget-log")).to_contain_text(re.compile(r"前面|排队|人工"))

    # The agent, in a second browser context.
    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = agent_ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    agent = demo_shop.login("agent")
    page.goto(f"{server}/login")
    page.fill("input[name=username]", agent.username)
    page.fill("input[name=password]", agent.password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/workspace"))

    page.get_by_test_id("tab-queue").click()
    row = page.get_by_test_id("queue-item").first
    expect(row).to_be_visible()
    row.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("reply-box")).to_be_enabled()
    suggestions = page.get_by_test_id("suggestion")
    expect(suggestions.first).to_be_visible()
    assert 1 <= suggestions.count() <= 3

    reply = "您好，我是客服小美，您的包裹正在路上，我帮您再催一下快递～"
    page.get_by_test_id("reply-box").fill(reply)
    page.get_by_test_id("send-button").click()
    expect(widget.locator(".xw-msg.xw-agent").filter(has_text=reply)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "loop-workspace.png"))

    page.get_by_test_id("create-ticket-button").click()
    ticket_link = page.get_by_test_id("ticket-link").first
    expect(ticket_link).to_be_visible()
    ticket_href = ticket_link.get_attribute("href")
    assert ticket_href
    assert ticket_href.startswith("/tickets/")

    page.get_by_test_id("close-button").click()
    expect(widget.get_by_test_id("widget-rating")).to_be_visible()
    widget.get_by_test_id("star-5").click()
    widget.get_by_test_id("rating-comment").fill("很快就解决了，谢谢！")
    widget.get_by_test_id("rating-submit").click()
    expect(widget.get_by_test_id("widget-rating")).to_be_hidden()
    expect(widget.get_by_test_id("widget-log")).to_contain_text("感谢您的评价")
    widget.screenshot(path=str(ARTIFACTS / "loop-widget-rated.png"))

    page.goto(f"{server}{ticket_href}")
    expect(page.get_by_test_id("rating-value")).to_have_text("5")
    page.screenshot(path=str(ARTIFACTS / "loop-ticket.png"))

    with sync_engine.connect() as conn:
        stored = conn.execute(
            text(
                "select r.rating from survey_response r join ticket t"
                " on t.conversation_id = r.conversation_id where t.id = :id"
            ),
            {"id": int(ticket_href.rsplit("/", 1)[1])},
        ).scalar_one()
    assert stored == 5
    assert not errors, errors
    customer_ctx.close()
    agent_ctx.close()
