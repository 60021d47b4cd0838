"""The supervisors' insights pages render (zh-CN and en), their forms act, agents get 403."""

from __future__ import annotations

import re

from tests.insights.test_abtest import make_script, script_row
from tests.insights.test_feedback import _seed_proposals, _seed_unanswered, window
from tests.web.login import login_as

PAGES = ("scripts", "coverage", "unanswered", "proposals", "ab")


def _login(client, shop, role):
    return login_as(client, shop, role)


def test_agents_get_403_on_every_page(app_client, demo_shop):
    csrf = _login(app_client, demo_shop, "agent")
    for page in PAGES:
        assert app_client.get(f"/insights/{page}").status_code == 403, page
    denied = app_client.post(
        "/insights/unanswered/dismiss", data={"csrf_token": csrf, "all_ids": "1"}
    )
    assert denied.status_code == 403


def test_pages_render_and_forms_act(app_client, demo_shop, database_url):
    ids = _seed_unanswered(database_url, demo_shop.shop_id)
    _, (variant_id, _, bare_id) = _seed_proposals(database_url, demo_shop)
    sid = make_script(database_url, demo_shop.shop_id)
    csrf = _login(app_client, demo_shop, "supervisor")

    stats = app_client.get("/insights/scripts", params={"sort": "title", "order": "asc"})
    assert stats.status_code == 200
    assert 'data-testid="script-stats"' in stats.text
    assert "直播抽奖" in stats.text
    english = app_client.get("/insights/scripts", params={"lang": "en"})
    assert "Bot answers" in english.text
    assert "Edited before send" in english.text
    bad = app_client.get("/insights/scripts", params={"start": "2026-13-40"})
    assert bad.status_code == 422

    coverage = app_client.get("/insights/coverage", params=window())
    assert coverage.status_code == 200
    assert "发票能开吗" in coverage.text

    page = app_client.get("/insights/unanswered", params=window())
    assert page.status_code == 200
    assert page.text.count('data-testid="cluster"') == 3
    # Tick one wording of the invoice group and dismiss only that one.
    boxes = re.findall(r'name="ids" value="([0-9,]+)"> 发票能开吗', page.text)
    assert boxes
    assert sorted(int(i) for i in boxes[0].split(",")) == ids["invoice"][:2]
    done = app_client.post(
        "/insights/unanswered/dismiss",
        data={
            "csrf_token": csrf,
            "ids": boxes[0],
            "all_ids": ",".join(map(str, ids["invoice"])),
            **window(),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "notice=dismissed" in done.headers["location"]
    after = app_client.get("/insights/unanswered", params=window()).text
    assert 'data-count="2"' in after
    assert "发票能开吗" not in after
    # Refused: a new script without an answer re-renders with the message.
    refused = app_client.post(
        "/insights/unanswered/create",
        data={
            "csrf_token": csrf,
            "all_ids": ",".join(map(str, ids["weekend"])),
            "title": "周末",
            **window(),
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="insights-error"' in refused.text
    missing_csrf = app_client.post("/insights/unanswered/dismiss", data={"all_ids": "1"})
    assert missing_csrf.status_code == 403

    proposals = app_client.get("/insights/proposals")
    assert proposals.status_code == 200
    assert "这件毛衣会起球吗" in proposals.text
    accepted = app_client.post(
        f"/insights/proposals/{variant_id}/accept",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    rejected = app_client.post(
        f"/insights/proposals/{bare_id}/reject",
        data={"csrf_token": csrf, "reason": "重复"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    assert "这件毛衣会起球吗" not in app_client.get("/insights/proposals").text
    assert (
        app_client.post(
            "/insights/proposals/999999999/accept", data={"csrf_token": csrf}
        ).status_code
        == 404
    )

    ab = app_client.get("/insights/ab")
    assert ab.status_code == 200
    assert f'<option value="{sid}"' in ab.text
    started = app_client.post(
        "/insights/ab/start",
        data={"csrf_token": csrf, "script_id": str(sid), "split_percent": "30"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert script_row(database_url, sid)["ab_split"] == 0.3
    running = app_client.get("/insights/ab").text
    test_id = re.search(r'data-testid="ab-running" data-test-id="(\d+)"', running).group(1)
    bad_split = app_client.post(
        "/insights/ab/start", data={"csrf_token": csrf, "script_id": str(sid), "split_percent": "x"}
    )
    assert bad_split.status_code == 422
    won = app_client.post(
        f"/insights/ab/{test_id}/winner-b", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert won.status_code == 303
    row = script_row(database_url, sid)
    assert (row["ab_split"], row["published_version"]) == (None, 2)
    assert 'data-testid="ab-finished"' in app_client.get("/insights/ab").text
