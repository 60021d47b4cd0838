"""axe-core (npm, node_modules/axe-core) over every page state in a real browser, under the real
Content-Security-Policy: no serious or critical finding, no console error (a missing favicon
shows up as one) and no CSP violation on any page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.e2e

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


class Audit:
    """Runs axe on each state of a page and keeps what it found, for one report at the end."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.console: list[str] = []
        self.source = AXE.read_text(encoding="utf-8")

    def watch(self, page: Page, label: str) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            # "Refused to …" is how chromium reports a CSP violation.
            if msg.type == "error" or "Refused to" in msg.text:
                self.console.append(f"{label} {page.url}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.console.append(f"{label} {page.url}: {exc}"))
        return page

    def check(self, page: Page, state: str) -> None:
        page.wait_for_load_state("networkidle")
        # DevTools evaluation is not subject to the page's CSP, so the pages keep their real
        # policy (script-src 'self') while axe runs.
        if not page.evaluate("() => Boolean(window.axe)"):
            page.evaluate(self.source)
        result: dict[str, Any] = page.evaluate(
            "() => axe.run(document, {resultTypes: ['violations']})"
        )
        for v in result["violations"]:
            if v["impact"] in BLOCKING:
                targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:4]]
                self.findings.append(
                    f"{state}: {v['impact']} {v['id']} ×{len(v['nodes'])} {targets}"
                )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"a11y-{state}.png"))


def _login(page: Page, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/workspace"))


def test_every_page_state_has_no_serious_axe_findings(
    browser: Browser, server: str, demo_shop: Any
) -> None:
    assert AXE.is_file(), "run `npm ci`: axe-core is a devDependency"
    audit = Audit()

    # The customer widget on a phone: greeting, a bot answer, the identify form open.
    customer = browser.new_context(viewport={"width": 390, "height": 780}, reduced_motion="reduce")
    widget = audit.watch(customer.new_page(), "widget")
    widget.set_default_timeout(15_000)
    widget.goto(f"{server}/chat/{demo_shop.slug}")
    expect(widget.get_by_test_id("widget-status")).not_to_have_text(re.compile("连接中"))
    audit.check(widget, "widget")
    widget.get_by_test_id("widget-input").fill("你们几点上班")
    widget.get_by_test_id("widget-send").click()
    # The first answer may wait for the bot's first training run on a busy machine.
    expect(widget.locator(".xw-msg.xw-bot").nth(1)).to_be_visible(timeout=60_000)
    widget.get_by_test_id("widget-identify").locator("summary").click()
    audit.check(widget, "widget-chat")
    widget.get_by_test_id("widget-human").click()
    expect(widget.get_by_test_id("widget-log")).to_contain_text(re.compile(r"前面|排队|人工"))

    # Staff pages, as an admin (who may open all of them).
    staff = browser.new_context(viewport={"width": 1440, "height": 900}, reduced_motion="reduce")
    page = audit.watch(staff.new_page(), "staff")
    page.set_default_timeout(15_000)
    page.goto(f"{server}/login")
    audit.check(page, "login")
    admin = demo_shop.login("admin")
    _login(page, server, admin.username, admin.password)
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    audit.check(page, "workspace-empty")

    page.get_by_test_id("tab-queue").click()
    row = page.get_by_test_id("queue-item").first
    row.get_by_test_id("accept-button").click()
    expect(page.get_by_test_id("reply-box")).to_be_enabled()
    expect(page.get_by_test_id("suggestion").first).to_be_visible()
    expect(page.get_by_test_id("customer-panel").locator("a").first).to_be_visible()
    audit.check(page, "workspace-chat")
    page.get_by_test_id("note-toggle").click()
    audit.check(page, "workspace-note")
    page.get_by_test_id("note-toggle").click()
    page.get_by_test_id("create-ticket-button").click()
    ticket_link = page.get_by_test_id("ticket-link").first
    expect(ticket_link).to_be_visible()
    ticket_href = ticket_link.get_attribute("href")

    for state, path in [
        ("tickets-list", "/tickets"),
        ("ticket-detail", ticket_href),
        ("ticket-new", "/tickets/new"),
        ("customer", f"/customers/{demo_shop.sample_customer_id}"),
        ("scripts-list", "/admin/scripts"),
        ("script-new", "/admin/scripts/new"),
        ("lint-rules", "/admin/scripts/lint-rules"),
        ("insights", "/insights"),
        ("insights-unanswered", "/insights/unanswered"),
        ("insights-coverage", "/insights/coverage"),
        ("insights-scripts", "/insights/scripts"),
        ("insights-ab", "/insights/ab"),
        ("insights-proposals", "/insights/proposals"),
        ("admin-users", "/admin/users"),
        ("admin-audit", "/admin/audit"),
        ("admin-jobs", "/admin/jobs"),
        ("account", "/account"),
        ("account-mfa", "/account/mfa"),
    ]:
        response = page.goto(f"{server}{path}")
        assert response is not None, (state, path)
        assert response.status == 200, (state, path)
        audit.check(page, state)

    page.goto(f"{server}/admin/scripts")
    page.locator("table a[href^='/admin/scripts/']").first.click()
    expect(page.get_by_test_id("script-form")).to_be_visible()
    audit.check(page, "script-editor")
    page.goto(page.url.split("?")[0] + "/versions")
    audit.check(page, "script-versions")

    # The error page: the console error of the 404 itself is the point, not a finding.
    response = page.goto(f"{server}/no-such-page")
    assert response is not None
    assert response.status == 404
    audit.console = [c for c in audit.console if "/no-such-page" not in c]
    audit.check(page, "error-page")

    customer.close()
    staff.close()
    report = "\n".join(audit.findings + audit.console)
    Path(ARTIFACTS / "a11y-report.txt").write_text(report or "clean\n", encoding="utf-8")
    assert not audit.findings, report
    assert not audit.console, report
