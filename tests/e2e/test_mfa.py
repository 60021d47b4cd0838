"""In the browser: a supervisor of a shop that requires two-step login enrols before anything
else (key from the page, code from an authenticator), sees the recovery codes once, lands in
the workspace, and on the next login is asked for a code."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import in_database
from xiaoer.audit.service import Actor
from xiaoer.auth import mfa


def _log_in(page: Any, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_test_id("login-submit").click()


@pytest.fixture
def mfa_shop(demo_shop: Any, database_url: str) -> Any:
    """The demo shop requiring MFA; set before the browser starts (it owns the event loop)."""
    in_database(
        database_url,
        lambda s: mfa.set_shop_mfa_requirement(
            s, shop_id=demo_shop.shop_id, required=True, actor=Actor.system(demo_shop.shop_id)
        ),
    )
    return demo_shop


def test_required_enrolment_then_code_at_the_next_login(
    mfa_shop: Any, browser: Browser, server: str
) -> None:
    demo_shop = mfa_shop
    supervisor = demo_shop.login("supervisor")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    _log_in(page, server, supervisor.username, supervisor.password)
    page.wait_for_url(re.compile(r"/account/mfa"))
    expect(page.get_by_test_id("mfa-required-note")).to_be_visible()
    secret = page.get_by_test_id("mfa-manual-key").inner_text().replace(" ", "")
    assert page.get_by_test_id("mfa-otpauth-uri").inner_text().startswith("otpauth://totp/")
    page.get_by_test_id("mfa-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("mfa-enrol-submit").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_test_id("mfa-continue").click()
    page.wait_for_url(re.compile(r"/workspace"))
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")

    page.get_by_test_id("logout").click()
    page.wait_for_url(re.compile(r"/login"))
    _log_in(page, server, supervisor.username, supervisor.password)
    page.wait_for_url(re.compile(r"/login/mfa"))
    page.get_by_test_id("mfa-code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_test_id("mfa-submit").click()
    page.wait_for_url(re.compile(r"/workspace"))
    context.close()
