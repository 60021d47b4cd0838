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


def test_agents_draft_and_submit_but_see_no_manager_actions(app_client, demo_shop):
    agent = demo_shop.login("agent")
    csrf = login(app_client, agent.username, agent.password)
    listing = app_client.get("/admin/scripts")
    assert listing.status_code == 200
    assert 'data-testid="script-publish"' not in listing.text
    assert 'data-testid="bot-preview"' not in listing.text
    created = app_client.post(
        "/admin/scripts/new",
        data={"csrf_token": csrf, "title": "坐席草稿", "answer": "亲，在的", "questions": "在吗"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    sid = int(re.search(r"/admin/scripts/(\d+)", created.headers["location"]).group(1))
    editor = app_client.get(f"/admin/scripts/{sid}")
    assert 'data-testid="script-submit"' in editor.text
    assert 'data-testid="script-publish"' not in editor.text
    assert 'data-testid="script-delete"' not in editor.text
    for action in ("publish", "delete", "return", "unpublish"):
        denied = app_client.post(f"/admin/scripts/{sid}/{action}", data={"csrf_token": csrf})
        assert denied.status_code == 403, action
    submitted = app_client.post(
        f"/admin/scripts/{sid}/submit", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert 'data-status="review"' in submitted.text
    queue = app_client.get("/admin/scripts", params={"status": "review"})
    assert "坐席草稿" in queue.text
    assert app_client.get("/admin/scripts/lint-rules").status_code == 403


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


def supervisor(app_client, demo_shop):
    user = demo_shop.login("supervisor")
    return login(app_client, user.username, user.password)


def new_script(app_client, csrf, **fields):
    data = {"csrf_token": csrf, "title": "t", "answer": "亲，在的", "questions": "在吗", **fields}
    response = app_client.post("/admin/scripts/new", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(re.search(r"/admin/scripts/(\d+)", response.headers["location"]).group(1))


def test_editor_saves_wordings_and_triggers_and_shows_lint_and_structure(app_client, demo_shop):
    csrf = supervisor(app_client, demo_shop)
    sid = new_script(
        app_client,
        csrf,
        title="退货运费",
        category="售后/退换货",
        answer="亲，质量问题运费由我们承担，为您办理退货，48小时内审核",
        answer_phone="您好，我们全网最低价，可能明天处理",
        answer_social_b="公开回复：请私信我们",
        keywords="运费, 退货",
        customer_tags="VIP",
        channels=["im", "phone"],
        emotions=["anger"],
    )
    api = app_client.get(f"/api/v1/scripts/{sid}").json()
    assert api["triggers"] == {
        "keywords": ["运费", "退货"],
        "customer_tags": ["VIP"],
        "channels": ["im", "phone"],
        "emotions": ["anger"],
    }
    assert {(a["channel"], a["variant"]) for a in api["answers"]} == {
        ("phone", "A"),
        ("social", "B"),
    }
    page = app_client.get(f"/admin/scripts/{sid}").text
    # Structure chips of the default answer: all three after-sale parts present.
    chips = re.search(r'data-testid="parts-im-A">(.*?)</div>', page, re.S).group(1)
    assert chips.count('data-present="true"') == 3
    phone = re.search(r'data-testid="parts-phone-A">(.*?)</div>', page, re.S).group(1)
    assert 'data-part="time_promise" data-present="true"' in phone
    assert 'data-part="responsibility" data-present="false"' in phone
    # The blocking phrase is highlighted in its wording, with the rule's suggestion.
    highlight = re.search(r'data-testid="highlight-phone-A"\s*>(.*?)</div>', page, re.S).group(1)
    assert '<mark class="lint-block" data-rule="misleading_claim">全网最低价</mark>' in highlight
    assert '<mark class="lint-warn" data-rule="vague_commitment">可能</mark>' in highlight
    assert "删除极限用语" in page
    assert 'value="im" checked' in page
    assert 'value="运费, 退货"' in page
    # Publishing is refused and the blocking findings are listed.
    refused = app_client.post(f"/admin/scripts/{sid}/publish", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert 'data-testid="blocked-findings"' in refused.text
    assert "全网最低价" in refused.text
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["status"] == "draft"

    fields = {
        "csrf_token": csrf,
        "title": "退货运费",
        "category": "售后/退换货",
        "answer": api["answer"],
        "answer_phone": "您好，质量问题运费由我们承担，为您办理退货，明天处理",
        "questions": "在吗",
    }
    saved = app_client.post(f"/admin/scripts/{sid}", data=fields, follow_redirects=False)
    assert saved.status_code == 303
    after = app_client.get(f"/api/v1/scripts/{sid}").json()
    assert after["triggers"] == {}  # cleared fields clear the triggers
    assert [(a["channel"], a["variant"]) for a in after["answers"]] == [("phone", "A")]
    published = app_client.post(
        f"/admin/scripts/{sid}/publish", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert published.status_code == 303
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["status"] == "published"


def test_editor_shows_variable_chips_orders_and_category_tree(app_client, demo_shop):
    supervisor(app_client, demo_shop)
    page = app_client.get("/admin/scripts/new").text
    assert 'data-var="carrier"' in page
    assert 'data-testid="preview-order"' in page
    assert page.count('<option value="XE') == 20
    assert '<option value="售后/退换货">' in page
    listing = app_client.get("/admin/scripts", params={"category": "售后"})
    assert 'data-testid="category-tree"' in listing.text
    assert 'data-path="售后/退换货"' in listing.text
    rows = re.findall(r'<span class="tag">([^<]+)</span>', listing.text)
    assert rows
    assert all(r.startswith("售后") for r in rows)
    english = app_client.get("/admin/scripts/new", params={"lang": "en"})
    assert "Phone script" in english.text


def test_history_page_diffs_and_rolls_back(app_client, demo_shop):
    csrf = supervisor(app_client, demo_shop)
    sid = new_script(
        app_client, csrf, category="咨询/尺码", answer="亲，M 码适合 100-120 斤", publish="1"
    )
    fields = {"csrf_token": csrf, "title": "t", "category": "咨询/尺码", "questions": "在吗"}
    app_client.post(f"/admin/scripts/{sid}", data={**fields, "answer": "亲，M 码适合 110-125 斤"})
    app_client.post(f"/admin/scripts/{sid}/publish", data={"csrf_token": csrf})
    history = app_client.get(f"/admin/scripts/{sid}/versions", params={"old": 1, "new": "2"})
    assert history.status_code == 200
    assert 'data-op="-">- 亲，M 码适合 100-120 斤' in history.text
    assert 'data-op="+">+ 亲，M 码适合 110-125 斤' in history.text
    assert 'data-testid="rollback-1"' in history.text
    assert 'data-testid="rollback-2"' not in history.text  # the one serving
    rolled = app_client.post(
        f"/admin/scripts/{sid}/rollback",
        data={"csrf_token": csrf, "version": "1"},
        follow_redirects=False,
    )
    assert rolled.status_code == 303
    assert rolled.headers["location"].endswith(
        f"/admin/scripts/{sid}/versions?old=2&new=3&notice=rolled_back"
    )
    page = app_client.get(rolled.headers["location"]).text
    assert 'data-op="+">+ 亲，M 码适合 100-120 斤' in page
    assert "rollback to v1" in page
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["published_version"] == 3
    same = app_client.get(f"/admin/scripts/{sid}/versions", params={"old": 1, "new": "3"})
    assert 'data-testid="diff-none"' in same.text

    app_client.cookies.clear()
    agent = demo_shop.login("agent")
    agent_csrf = login(app_client, agent.username, agent.password)
    seen = app_client.get(f"/admin/scripts/{sid}/versions")
    assert seen.status_code == 200
    assert 'data-testid="rollback-1"' not in seen.text
    denied = app_client.post(
        f"/admin/scripts/{sid}/rollback", data={"csrf_token": agent_csrf, "version": "1"}
    )
    assert denied.status_code == 403


def test_lint_rules_page_saves_for_admins(app_client, demo_shop, sync_engine):
    csrf = admin(app_client, demo_shop)
    page = app_client.get("/admin/scripts/lint-rules")
    assert page.status_code == 200
    assert 'data-testid="severity-misleading_claim"' in page.text
    saved = app_client.post(
        "/admin/scripts/lint-rules",
        data={
            "csrf_token": csrf,
            "severity.misleading_claim": "warn",
            "severity.absolute_promise": "default",
            "phrases.absolute_promise": "稳赚\n包过\n",
            "limit.agent": "30",
            "limit.supervisor": "",
        },
        follow_redirects=True,
    )
    assert 'data-testid="rules-notice"' in saved.text
    api = app_client.get("/api/v1/scripts/lint-rules").json()
    rules = {r["id"]: r for r in api["rules"]}
    assert rules["misleading_claim"]["severity"] == "warn"
    assert rules["absolute_promise"]["extra_phrases"] == ["稳赚", "包过"]
    assert api["limits_cents"]["agent"] == 3000
    bad = app_client.post(
        "/admin/scripts/lint-rules", data={"csrf_token": csrf, "limit.agent": "lots"}
    )
    assert bad.status_code == 422
    assert 'data-testid="rules-error"' in bad.text
    with sync_engine.connect() as conn:
        from sqlalchemy import text

        count = conn.execute(
            text("select count(*) from audit_entry where shop_id = :s and action = :a"),
            {"s": demo_shop.shop_id, "a": "lint_rules.updated"},
        ).scalar()
    assert count == 1


def test_editor_checkbox_turns_the_bot_off_and_on_and_the_list_shows_agents_only(
    app_client, demo_shop
):
    csrf = supervisor(app_client, demo_shop)
    blank = app_client.get("/admin/scripts/new").text
    assert re.search(r'name="bot_enabled" value="1"\s+checked', blank)  # on for a new script
    # A checked box sends its value; an unchecked one sends nothing, which means off.
    sid = new_script(app_client, csrf, title="坐席专用安抚", bot_enabled="1", publish="1")
    api = app_client.get(f"/api/v1/scripts/{sid}").json()
    assert (api["bot_enabled"], api["status"]) == (True, "published")
    fields = {
        "csrf_token": csrf,
        "title": "坐席专用安抚",
        "answer": "亲，在的",
        "questions": "在吗",
    }
    saved = app_client.post(f"/admin/scripts/{sid}", data=fields, follow_redirects=False)
    assert saved.status_code == 303
    api = app_client.get(f"/api/v1/scripts/{sid}").json()
    assert (api["bot_enabled"], api["status"]) == (False, "draft")
    editor = app_client.get(f"/admin/scripts/{sid}").text
    assert re.search(r'name="bot_enabled" value="1"\s+data-testid', editor)  # unchecked
    listing = app_client.get("/admin/scripts", params={"q": "坐席专用安抚"}).text
    assert 'data-testid="agents-only"' in listing
    assert "仅坐席" in listing
    english = app_client.get("/admin/scripts", params={"q": "坐席专用安抚", "lang": "en"}).text
    assert "agents only" in english

    app_client.post(f"/admin/scripts/{sid}", data={**fields, "bot_enabled": "1"})
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["bot_enabled"] is True
    listing = app_client.get("/admin/scripts", params={"q": "坐席专用安抚"}).text
    assert 'data-testid="agents-only"' not in listing
    # A form error keeps the box as it was sent.
    kept = app_client.post(f"/admin/scripts/{sid}", data={**fields, "answer": "{nope}"})
    assert kept.status_code == 422
    assert re.search(r'name="bot_enabled" value="1"\s+data-testid', kept.text)


def test_new_script_form_without_the_checkbox_is_agents_only(app_client, demo_shop):
    csrf = supervisor(app_client, demo_shop)
    sid = new_script(app_client, csrf, title="仅坐席新建")
    assert app_client.get(f"/api/v1/scripts/{sid}").json()["bot_enabled"] is False
