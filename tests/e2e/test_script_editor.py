"""The script editor in a real browser (issue 3): a supervisor edits a script's phone wording,
sees its structure chips and a blocking lint finding highlighted, previews it with a demo order,
publishes, then rolls back to version 1 from the history page and sees the diff. Screenshots
land in `test-artifacts/`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

BAD_PHONE = (
    "您好，这里是店小二客服。我们是全网最低价。您的订单 {order_no} 由 {carrier} 配送，"
    "运单号 {tracking_no}，您可以点击订单详情查看物流。"
)
GOOD_PHONE = (
    "您好，这里是店小二客服。您的订单 {order_no} 由 {carrier} 配送，"
    "运单号 {tracking_no}，您可以点击订单详情查看物流。"
)


def shipped_order(sync_engine: Engine, shop_id: int, order_nos: list[str]) -> tuple[str, str, str]:
    """(order_no, carrier, tracking_no) of the first listed order that has shipped."""
    with sync_engine.connect() as conn:
        for order_no in order_nos:
            row = conn.execute(
                text(
                    "select s.carrier, s.tracking_no from shipment s join shop_order o "
                    "on o.id = s.order_id where o.shop_id = :shop and o.order_no = :no "
                    "order by s.id desc"
                ),
                {"shop": shop_id, "no": order_no},
            ).first()
            if row is not None:
                return order_no, row.carrier, row.tracking_no
    raise AssertionError(f"no shipped order among the picker's orders {order_nos}")


def test_supervisor_edits_previews_publishes_and_rolls_back(
    browser: Browser, server: str, demo_shop: Any, sync_engine: Engine
) -> None:
    account = demo_shop.login("supervisor")
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.goto(f"{server}/login")
        page.fill("input[name=username]", account.username)
        page.fill("input[name=password]", account.password)
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url(re.compile(r"/workspace"))

        scripts = page.request.get(
            f"{server}/api/v1/scripts", params={"category": "咨询/物流", "status": "published"}
        ).json()["items"]
        script = scripts[0]
        page.goto(f"{server}/admin/scripts/{script['id']}")
        expect(page.get_by_test_id("script-status")).to_have_attribute("data-status", "published")

        # Edit the phone wording: live lint and structure follow the typing.
        phone = page.get_by_test_id("script-answer-phone")
        phone.fill(BAD_PHONE)
        mark = page.locator("[data-testid=highlight-phone-A] mark.lint-block")
        expect(mark).to_have_text("全网最低价")
        expect(mark).to_have_attribute("data-rule", "misleading_claim")
        chips = page.get_by_test_id("parts-phone-A")
        expect(chips.locator("[data-part=information]")).to_have_attribute("data-present", "true")
        expect(chips.locator("[data-part=guiding_action]")).to_have_attribute(
            "data-present", "true"
        )
        expect(
            page.locator("[data-testid=findings-phone-A] [data-rule=misleading_claim]")
        ).to_be_visible()

        # Preview with a demo order: the order's real carrier and waybill number.
        options = page.locator("[data-testid=preview-order] option").evaluate_all(
            "opts => opts.map(o => o.value).filter(Boolean)"
        )
        order_no, carrier, tracking = shipped_order(sync_engine, demo_shop.shop_id, options)
        expect(page.get_by_test_id("preview-wording")).to_have_value("answer_phone")
        page.get_by_test_id("preview-order").select_option(order_no)
        page.get_by_test_id("preview-run").click()
        expect(page.get_by_test_id("answer-preview")).to_contain_text(
            f"您的订单 {order_no} 由 {carrier} 配送，运单号 {tracking}"
        )
        page.screenshot(path=str(ARTIFACTS / "script-editor-lint-preview.png"), full_page=True)

        # Saved with the blocking phrase: a draft, and publishing is refused with the finding.
        page.get_by_test_id("script-save").click()
        expect(page.get_by_test_id("script-notice")).to_be_visible()
        expect(page.get_by_test_id("script-status")).to_have_attribute("data-status", "draft")
        expect(page.locator("[data-testid=highlight-phone-A] mark.lint-block")).to_have_text(
            "全网最低价"
        )
        page.get_by_test_id("script-publish").click()
        expect(page.get_by_test_id("blocked-findings")).to_contain_text("全网最低价")

        page.get_by_test_id("script-answer-phone").fill(GOOD_PHONE)
        expect(page.locator("[data-testid=highlight-phone-A] mark")).to_have_count(0)
        page.get_by_test_id("script-save").click()
        expect(page.get_by_test_id("script-notice")).to_be_visible()
        page.get_by_test_id("script-publish").click()
        expect(page.get_by_test_id("script-status")).to_have_attribute("data-status", "published")
        expect(page.get_by_test_id("script-serving")).to_contain_text("2")

        # History: roll back to version 1 and see what changed.
        page.get_by_test_id("script-history").click()
        expect(page.locator("[data-version='2'] [data-testid=version-serving]")).to_be_visible()
        page.get_by_test_id("rollback-1").click()
        expect(page.get_by_test_id("versions-notice")).to_be_visible()
        expect(page.locator("[data-version='3'] [data-testid=version-serving]")).to_be_visible()
        diff = page.locator("[data-testid=diff-field][data-field=answers]")
        expect(diff.locator("[data-op='-']")).to_contain_text("由 {carrier} 配送")
        expect(page.get_by_test_id("diff-caption")).to_have_text("v2 → v3")
        page.screenshot(path=str(ARTIFACTS / "script-editor-rollback-diff.png"), full_page=True)
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()
