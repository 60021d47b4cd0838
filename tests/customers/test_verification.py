"""Shopper verification parts: identity tokens, visitor tokens, normalising what shoppers type,
settings for code providers, and one-time codes by e-mail through a real local SMTP server."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.conversations.chat import frames_until, hello
from tests.servers import free_port
from tests.web.data import rows
from xiaoer.app import create_app
from xiaoer.config import Settings
from xiaoer.customers import verification
from xiaoer.customers.delivery import (
    ConsoleSmsSender,
    DeliveryFailed,
    SmtpEmailSender,
    make_senders,
)
from xiaoer.errors import InvalidInput

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _at(delta: dt.timedelta) -> int:
    return int((NOW + delta).timestamp())


def test_identity_token_carries_the_external_id_until_it_expires():
    token = verification.sign_identity("s3cret", "user.with.dots", _at(dt.timedelta(minutes=5)))
    assert verification.check_identity_token("s3cret", token, NOW) == "user.with.dots"
    assert verification.check_identity_token("s3cret", f"  {token}\n", NOW) == "user.with.dots"
    later = NOW + dt.timedelta(minutes=6)
    assert verification.check_identity_token("s3cret", token, later) is None


@pytest.mark.parametrize(
    "token",
    [
        verification.sign_identity("other", "42", _at(dt.timedelta(minutes=5))),
        verification.sign_identity("s3cret", "42", _at(dt.timedelta(days=2))),
        verification.sign_identity("s3cret", "42", _at(dt.timedelta(minutes=5)))[:-1] + "0",
        "42." + str(_at(dt.timedelta(minutes=5))),
        "",
        "..",
        "x" * 101 + "." + str(_at(dt.timedelta(minutes=5))) + ".00",
        "42.-5.abcdef",
    ],
    ids=[
        "other-secret",
        "too-long-lived",
        "bad-signature",
        "unsigned",
        "empty",
        "dots",
        "long-id",
        "negative-expiry",
    ],
)
def test_forged_or_malformed_identity_tokens_are_refused(token):
    assert verification.check_identity_token("s3cret", token, NOW) is None


def test_visitor_tokens_are_recognised_only_when_issued_with_this_key():
    token = verification.new_visitor_token("key-one")
    assert verification.token_is_ours(token, "key-one")
    assert not verification.token_is_ours(token, "key-two")
    assert not verification.token_is_ours(
        token[:-1] + ("A" if token[-1] != "A" else "B"), "key-one"
    )
    assert not verification.token_is_ours("short", "key-one")


def test_what_shoppers_type_is_folded_to_one_spelling():
    assert verification.normalize_order_no(" ｘｅ２６１２-0712 3456 ") == "XE261207123456"
    assert verification.normalize_target("sms", "＋８６ １３８-0013-8000") == "13800138000"
    assert verification.normalize_target("email", " Li.Na@Example.COM ") == "li.na@example.com"
    with pytest.raises(InvalidInput):
        verification.normalize_target("email", "not-an-address")
    assert verification.mask_target("sms", "13800138000") == "138****8000"
    assert verification.mask_target("email", "lina@example.com") == "l***@example.com"


def test_console_sms_is_a_development_provider_only():
    dev = make_senders(Settings(env="development"))
    assert isinstance(dev["sms"], ConsoleSmsSender)
    assert "email" not in dev
    assert "sms" not in make_senders(
        Settings(env="production", secret_key=secrets.token_urlsafe(48))
    )
    with pytest.raises(ValueError, match="console SMS"):
        Settings(env="production", secret_key=secrets.token_urlsafe(48), sms_provider="console")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def wait(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_smtp_sender_delivers_the_code_in_the_shoppers_language(smtp):
    inbox, port = smtp
    sender = SmtpEmailSender(host="127.0.0.1", port=port, sender="shop@example.com")
    asyncio.run(sender.send("li@example.com", "123456", locale="en", minutes=10))
    [mail] = inbox.wait(1)
    assert mail.rcpt_tos == ["li@example.com"]
    body = mail.content.decode()
    assert "123456" in body
    assert "10 minutes" in body


def test_smtp_sender_reports_an_unreachable_server():
    sender = SmtpEmailSender(host="127.0.0.1", port=free_port(), sender="s@example.com", timeout=2)
    with pytest.raises(DeliveryFailed):
        asyncio.run(sender.send("li@example.com", "123456", locale="zh-CN", minutes=10))


def test_a_code_by_email_verifies_the_customer_who_owns_the_address(
    settings, demo_shop, sync_engine, smtp
):
    inbox, port = smtp
    with sync_engine.begin() as conn:
        conn.execute(
            text("update customer set email = 'owner@example.com' where id = :c"),
            {"c": demo_shop.sample_customer_id},
        )
    mail_settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    )
    with (
        TestClient(create_app(mail_settings)) as client,
        client.websocket_connect(f"/ws/chat/{demo_shop.slug}") as ws,
    ):
        hello(ws)
        ws.send_json({"type": "verify_request", "channel": "email", "target": "Owner@Example.com"})
        sent = frames_until(ws, "code_sent")[-1]
        assert sent["target"] == "o***@example.com"
        [mail] = inbox.wait(1)
        assert mail.rcpt_tos == ["owner@example.com"]
        text_body = message_from_bytes(mail.content, policy=policy.default).get_body()
        assert text_body is not None
        code = re.search(r"(\d{6})", text_body.get_content())
        assert code is not None
        ws.send_json({"type": "verify", "method": "code", "code": code.group(1)})
        frames = frames_until(ws, "verified")
        assert [f["type"] for f in frames].count("ready") == 1
    assert frames[-1]["method"] == "code"
    stored = rows(
        sync_engine,
        "select code_hash, used_at from verification_code where target = 'owner@example.com'",
    )
    assert len(stored) == 1
    assert code.group(1) not in stored[0][0]
    assert stored[0][1] is not None
