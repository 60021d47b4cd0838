"""The shared layout: navigation by role, language switch, error pages for logged-in users."""

from __future__ import annotations

from tests.web.login import login_as

HTML = {"accept": "text/html"}


def _as(client, demo_shop, role):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    return login_as(client, demo_shop, role)


def test_navigation_shows_only_what_the_role_may_open(app_client, demo_shop):
    _as(app_client, demo_shop, "agent")
    agent_page = app_client.get("/tickets", headers=HTML).text
    assert 'data-testid="nav-tickets"' in agent_page
    assert 'data-testid="nav-audit"' not in agent_page
    assert 'data-testid="nav-users"' not in agent_page
    _as(app_client, demo_shop, "supervisor")
    supervisor_page = app_client.get("/tickets", headers=HTML).text
    assert 'data-testid="nav-audit"' in supervisor_page
    assert 'data-testid="nav-users"' not in supervisor_page
    _as(app_client, demo_shop, "admin")
    admin_page = app_client.get("/tickets", headers=HTML).text
    assert 'data-testid="nav-users"' in admin_page
    assert demo_shop.login("admin").display_name in admin_page


def test_pages_carry_the_csrf_token_for_htmx_and_forms(app_client, demo_shop):
    csrf = _as(app_client, demo_shop, "agent")
    page = app_client.get("/tickets", headers=HTML).text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page
    assert f'name="csrf_token" value="{csrf}"' in page  # the logout form


def test_language_switch_turns_the_ui_english_and_remembers_it(app_client, demo_shop):
    _as(app_client, demo_shop, "agent")
    assert "工单" in app_client.get("/tickets", headers=HTML).text
    english = app_client.get("/tickets?lang=en", headers=HTML)
    assert "New ticket" in english.text
    assert app_client.cookies.get("lang") == "en"
    assert "New ticket" in app_client.get("/tickets", headers=HTML).text


def test_forbidden_page_renders_with_the_layout_for_a_logged_in_user(app_client, demo_shop):
    _as(app_client, demo_shop, "agent")
    response = app_client.get("/admin/audit", headers=HTML)
    assert response.status_code == 403
    assert 'data-testid="error-message"' in response.text
    assert demo_shop.login("agent").display_name in response.text


def test_stylesheet_is_served(app_client):
    css = app_client.get("/static/app.css")
    assert css.status_code == 200
    assert ".topbar" in css.text
    assert ".timeline" in css.text
