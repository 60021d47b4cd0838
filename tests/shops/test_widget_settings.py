"""Admins set which sites may frame the widget and its colour; the widget page follows."""

from __future__ import annotations

from tests.web.login import login

HTML = {"accept": "text/html"}


def _as(client, demo_shop, role):  # type: ignore[no-untyped-def]
    account = demo_shop.login(role)
    client.cookies.clear()
    return login(client, account.username, account.password)


def test_admin_sets_origins_and_colour_and_the_widget_follows(app_client, demo_shop):
    csrf = _as(app_client, demo_shop, "admin")
    response = app_client.put(
        "/api/v1/shop/widget",
        json={
            "origins": ["https://Shop.Example.com/", "http://localhost:8080"],
            "color": "#FFCC00",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["origins"] == ["https://shop.example.com", "http://localhost:8080"]
    assert body["color"] == "#ffcc00"
    assert body["effective_color"] != "#ffcc00"  # yellow under white text is unreadable

    page = app_client.get(f"/chat/{demo_shop.slug}", headers=HTML)
    assert (
        "frame-ancestors https://shop.example.com http://localhost:8080"
        in (page.headers["content-security-policy"])
    )
    assert f"--xw-brand: {body['effective_color']}" in page.text

    log = app_client.get("/api/v1/audit?action=widget_settings.updated")
    assert log.status_code == 200
    (entry,) = log.json()["items"]
    assert entry["after"]["origins"] == body["origins"]
    assert entry["before"] == {"origins": [], "color": None}


def test_bad_origins_and_colours_are_a_clean_422(app_client, demo_shop):
    csrf = _as(app_client, demo_shop, "admin")
    for payload, code in [
        ({"origins": ["https://x.com; script-src *"]}, "invalid_origin"),
        ({"origins": ["javascript:alert(1)"]}, "invalid_origin"),
        ({"origins": ["https://x.com/path"]}, "invalid_origin"),
        ({"color": "red"}, "invalid_color"),
    ]:
        response = app_client.put(
            "/api/v1/shop/widget", json=payload, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 422, payload
        assert response.json()["error"] == code
    too_many = {"origins": [f"https://s{i}.example.com" for i in range(21)]}
    response = app_client.put("/api/v1/shop/widget", json=too_many, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422


def test_only_admins_change_widget_settings(app_client, demo_shop):
    csrf = _as(app_client, demo_shop, "supervisor")
    response = app_client.put(
        "/api/v1/shop/widget",
        json={"origins": ["https://evil.example"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403
    page = app_client.get(f"/chat/{demo_shop.slug}", headers=HTML)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
