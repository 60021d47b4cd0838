"""Every error that reaches a page, a toast or the widget speaks the page's language; the error
codes stay the same in every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conversations.chat import frames_until, hello
from tests.web.login import login
from xiaoer.web.i18n import catalog, error_text

SRC = Path(__file__).resolve().parents[2] / "src" / "xiaoer"
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_error_key_raised_in_the_code_has_a_chinese_text():
    keys = set()
    for path in SRC.rglob("*.py"):
        keys |= set(re.findall(r'\bkey="([a-z_]+)"', path.read_text(encoding="utf-8")))
    # (No "order_not_found": the widget no longer looks orders up on a bare claim; a failed
    # verification is one code, `verification_failed`, whatever did not match.)
    assert {"role_forbidden", "override_credentials"} <= keys
    # English may keep the server's own text (it is English already); zh-CN must not.
    for key in sorted(keys):
        assert f"errors.{key}" in catalog("zh-CN"), key


@pytest.mark.parametrize(
    ("status", "code", "message", "key", "params", "zh", "en"),
    [
        (
            404,
            "not_found",
            "no order with this number",
            "order_not_found",
            {},
            "没有找到这个订单号",
            "No order with this number",
        ),
        (
            403,
            "override_refused",
            "wrong supervisor username or password",
            "override_credentials",
            {},
            "主管用户名或密码错误",
            "Wrong supervisor username",
        ),
        (
            403,
            "forbidden",
            "only the assigned agent or a supervisor may close this conversation",
            "not_assigned_close",
            {},
            "只有负责此会话的客服或主管可以结束会话",
            "Only the assigned",
        ),
        (
            429,
            "throttled",
            "too many failed attempts; try again in 30 s",
            "throttled",
            {"seconds": 30},
            "30 秒后再试",
            "try again in 30 s",
        ),
        # No translation of its own: zh-CN falls back to its code, en keeps the server text.
        (409, "conflict", "script changed meanwhile", None, {}, "操作冲突", "script changed"),
        (418, "teapot", "short and stout", None, {}, "服务器出错了", "short and stout"),
    ],
)
def test_error_texts_in_both_languages(status, code, message, key, params, zh, en):
    def text(locale: str) -> str:
        return error_text(
            locale, status=status, code=code, message=message, key=key or code, params=params
        )

    assert zh in text("zh-CN")
    assert not re.search("[a-z]{4,}", text("zh-CN"))
    assert en in text("en")
    assert not CJK.search(text("en"))


def _agent_headers(app_client, demo_shop, locale: str) -> dict[str, str]:
    account = demo_shop.login("agent")
    csrf = login(app_client, account.username, account.password)
    app_client.cookies.set("lang", locale)
    return {"X-CSRF-Token": csrf}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("zh-CN", "您的角色无权执行此操作。"), ("en", "Your role may not do this.")],
)
def test_the_403_page_and_toast_speak_the_pages_language(app_client, demo_shop, locale, expected):
    headers = _agent_headers(app_client, demo_shop, locale)
    page = app_client.get("/admin/audit", headers={"accept": "text/html"})
    assert page.status_code == 403
    assert expected in page.text
    assert ("your role may not do this" in page.text) is False
    api = app_client.get("/api/v1/users", headers=headers)
    assert api.status_code == 403
    assert api.json() == {"error": "forbidden", "message": expected}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_validation_nul_and_404_errors_speak_the_pages_language(app_client, demo_shop, locale):
    headers = _agent_headers(app_client, demo_shop, locale)
    bad = app_client.post("/api/v1/tickets", json={"title": 5}, headers=headers)
    nul = app_client.post("/api/v1/tickets", json={"title": "a\x00"}, headers=headers)
    missing = app_client.get("/api/v1/tickets/999999999", headers=headers)
    page = app_client.get("/no/such/page", headers={"accept": "text/html"})
    assert [r.status_code for r in (bad, nul, missing, page)] == [422, 422, 404, 404]
    assert [bad.json()["error"], nul.json()["error"], missing.json()["error"]] == [
        "invalid_input",
        "invalid_input",
        "not_found",
    ]
    texts = [bad.json()["message"], nul.json()["message"], missing.json()["message"]]
    if locale == "zh-CN":
        assert texts[0].startswith("输入无效")
        assert "title" in texts[0]
        assert texts[1] == "文本中不能包含空字符（NUL）。"
        assert all(CJK.search(t) for t in texts)
        assert "未找到" in page.text or "不存在" in page.text
    else:
        assert not any(CJK.search(t) for t in texts)
        assert "NUL" in texts[1]


def test_an_api_client_without_a_language_gets_english_and_accept_language_is_honoured(
    app_client,
):
    assert app_client.get("/api/v1/me").json()["message"] == "login required"
    zh = app_client.get("/api/v1/me", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert zh.json() == {"error": "unauthorized", "message": "请先登录。"}


@pytest.mark.parametrize(
    ("locale", "expected"), [("zh-CN", "消息不能为空。"), ("en", "message is empty")]
)
def test_widget_error_frames_speak_the_widgets_language(app_client, demo_shop, locale, expected):
    with app_client.websocket_connect(f"/ws/chat/{demo_shop.slug}?lang={locale}") as ws:
        hello(ws)
        ws.send_text('{"type": "message", "client_msg_id": "e1", "body": "   "}')
        error = frames_until(ws, "error")[-1]
    assert error == {"type": "error", "code": "empty_message", "message": expected}
