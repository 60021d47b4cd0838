"""The /admin/scripts pages: list with search, edit form with one variant per line, publish."""

from __future__ import annotations

import re

from tests.web.login import login


def admin(app_client, demo_shop):
    user = demo_shop.login("admin")
    return login(app_client, user.username, user.password)


def test_script_list_searches_and_shows_publish_state(app_client, demo_shop):
    admin(app_client, demo_shop)
    page = app_client.get("/admin/scripts", params={"q": "发票"})
    assert page.status_code == 200
    assert "开具发票" in page.text
    assert "尺码推荐" not in page.text
    assert 'data-testid="bot-preview"' in page.text
    english = app_client.get("/admin/scripts", params={"lang": "en"})
    assert "New script" in english.text


def test_new_script_form_saves_variants_one_per_line_and_publishes(app_client, demo_shop):
    csrf = admin(app_client, demo_shop)
    response = app_client.post(
        "/admin/scripts/new",
        data={
            "csrf_token": csrf,
            "title": "直播间优惠",
            "category": "咨询/优惠",
            "answer": "亲，直播间专属券在直播时发放哦 {customer_name}",
            "questions": "直播间有券吗\r\n\r\n直播什么时候有优惠\n",
            "publish": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    sid = int(re.search(r"/admin/scripts/(\d+)", location).group(1))
    form = app_client.get(f"/admin/scripts/{sid}")
    assert "直播间有券吗\n直播什么时候有优惠</textarea>" in form.text
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["status"] == "published"

    off = app_client.post(
        f"/admin/scripts/{sid}/unpublish", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert off.status_code == 303
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["status"] == "draft"


def test_form_error_is_shown_and_input_kept(app_client, demo_shop):
    csrf = admin(app_client, demo_shop)
    response = app_client.post(
        "/admin/scripts/new",
        data={
            "csrf_token": csrf,
            "title": "坏变量",
            "answer": "您的券码 {coupon}",
            "questions": "有券码吗",
        },
    )
    assert response.status_code == 422
    assert "{coupon}" in response.text
    assert 'data-testid="script-error"' in response.text
    assert "有券码吗</textarea>" in response.text


def test_script_text_is_escaped_on_the_page(app_client, demo_shop):
    csrf = admin(app_client, demo_shop)
    response = app_client.post(
        "/admin/scripts/new",
        data={
            "csrf_token": csrf,
            "title": "<img src=x onerror=alert(1)>",
            "answer": "<script>alert(1)</script>",
            "questions": "<b>hi</b>",
        },
        follow_redirects=True,
    )
    assert "<img src=x onerror" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert "<script>alert(1)</script>" not in response.text


def test_agents_cannot_open_the_admin_pages(app_client, demo_shop):
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    assert app_client.get("/admin/scripts").status_code == 403


def test_bot_preview_fragment_shows_the_decision(app_client, demo_shop):
    csrf = admin(app_client, demo_shop)
    fragment = app_client.post(
        "/admin/scripts-preview", data={"csrf_token": csrf, "text": "可以开发票吗"}
    )
    assert fragment.status_code == 200
    assert "开具发票" in fragment.text
    assert 'data-testid="preview-answer"' in fragment.text
    handoff = app_client.post("/admin/scripts-preview", data={"csrf_token": csrf, "text": "转人工"})
    assert 'data-testid="preview-handoff"' in handoff.text
