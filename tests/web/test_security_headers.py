"""Security headers on pages, the API, static files and errors; the widget's framing rules;
production-only HSTS and Secure cookies; no inline script anywhere in the templates."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from tests.web.login import login
from xiaoer.app import create_app
from xiaoer.config import Settings
from xiaoer.shops.models import Shop
from xiaoer.web.contrast import contrast_ratio, parse_hex, readable_on_white_text
from xiaoer.web.security import normalize_origin

HTML = {"accept": "text/html"}
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "xiaoer"


def _directives(csp: str) -> dict[str, str]:
    out = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def _assert_staff_headers(response) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "DENY"
    csp = _directives(headers["content-security-policy"])
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "strict-transport-security" not in headers  # development/test: plain HTTP is fine


def test_pages_api_static_and_errors_carry_the_header_set(app_client, demo_shop):
    account = demo_shop.login("agent")
    login(app_client, account.username, account.password)
    for response in (
        app_client.get("/login", headers=HTML),
        app_client.get("/workspace", headers=HTML),
        app_client.get("/tickets", headers=HTML),
        app_client.get("/api/v1/conversations?view=queue"),
        app_client.get("/static/app.js"),
        app_client.get("/static/favicon.svg"),
        app_client.get("/no/such/page", headers=HTML),
        app_client.get("/api/v1/no-such-thing"),
        app_client.get("/healthz"),
    ):
        assert response.status_code < 500, response.url
        _assert_staff_headers(response)


def test_unhandled_error_page_still_carries_the_headers(settings):
    app = create_app(settings)

    @app.get("/boom-for-test")
    async def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom-for-test")
    assert response.status_code == 500
    _assert_staff_headers(response)


def test_api_docs_allow_only_their_own_inline_script_by_hash(app_client):
    response = app_client.get("/api/docs")
    assert response.status_code == 200
    script_src = _directives(response.headers["content-security-policy"])["script-src"]
    assert "'unsafe-inline'" not in script_src
    assert re.search(r"'sha256-[A-Za-z0-9+/=]+'", script_src)
    assert response.headers["content-length"] == str(len(response.content))


def _set_widget(database_url, shop_id, **values):  # type: ignore[no-untyped-def]
    from tests.conftest import in_database

    async def work(session):  # type: ignore[no-untyped-def]
        await session.execute(update(Shop).where(Shop.id == shop_id).values(**values))

    in_database(database_url, work)


def test_widget_may_be_framed_only_by_the_shops_allowed_origins(
    app_client, demo_shop, database_url
):
    page = app_client.get(f"/chat/{demo_shop.slug}", headers=HTML)
    assert page.status_code == 200
    assert _directives(page.headers["content-security-policy"])["frame-ancestors"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"

    _set_widget(
        database_url,
        demo_shop.shop_id,
        widget_origins=["https://shop.example.com", "javascript:alert(1)", "https://a.cn:8443/"],
    )
    page = app_client.get(f"/chat/{demo_shop.slug}", headers=HTML)
    csp = _directives(page.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "https://shop.example.com https://a.cn:8443"
    assert csp["script-src"] == "'self'"
    assert "x-frame-options" not in page.headers  # it would forbid the allowed origins too
    assert page.headers["x-content-type-options"] == "nosniff"


def test_widget_brand_colour_is_darkened_until_white_text_passes_aa(
    app_client, demo_shop, database_url
):
    _set_widget(database_url, demo_shop.shop_id, widget_color="#ffcc00")
    page = app_client.get(f"/chat/{demo_shop.slug}", headers=HTML).text
    shown = re.search(r"--xw-brand: (#[0-9a-f]{6})", page)
    assert shown
    assert shown.group(1) != "#ffcc00"
    rgb = parse_hex(shown.group(1))
    assert rgb is not None
    assert contrast_ratio(rgb, (255, 255, 255)) >= 4.5


@pytest.mark.parametrize("colour", ["#e8553e", "#ffcc00", "#00ff00", "#8a94a6", "#ffffff"])
def test_darkened_colour_is_the_lightest_shade_that_passes(colour):
    fixed = readable_on_white_text(colour)
    assert fixed is not None
    rgb = parse_hex(fixed)
    assert rgb is not None
    assert contrast_ratio(rgb, (255, 255, 255)) >= 4.5
    # one step lighter in every channel would fail: we did not darken more than needed
    lighter = tuple(min(255, c + 3) for c in rgb)
    assert contrast_ratio(lighter, (255, 255, 255)) < 4.5  # type: ignore[arg-type]


def test_a_passing_colour_is_kept_and_junk_is_refused():
    assert readable_on_white_text("#1d4ed8") == "#1d4ed8"
    assert readable_on_white_text("red; background:url(x)") is None
    assert normalize_origin("https://Shop.Example.com/") == "https://shop.example.com"
    assert normalize_origin("https://shop.example.com/path") is None
    assert normalize_origin("https://x.com; script-src *") is None


def test_production_adds_hsts_and_secure_cookies(database_url, tmp_path, demo_shop):
    settings = Settings(
        env="production",
        database_url=database_url,
        data_dir=tmp_path,
        log_json=False,
        secret_key=secrets.token_urlsafe(32),
    )
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        page = client.get("/login", headers=HTML)
        assert page.headers["strict-transport-security"].startswith("max-age=31536000")
        cookies = page.headers.get_list("set-cookie")
        assert cookies
        for cookie in cookies:
            assert "secure" in [a.strip().lower() for a in cookie.split(";")]
        static = client.get("/static/app.css")
        assert "strict-transport-security" in static.headers
        lang = client.get("/login?lang=en", headers=HTML).headers.get_list("set-cookie")
        assert any(c.startswith("lang=") and "Secure" in c for c in lang)


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", re.I)
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def test_templates_have_no_inline_script_or_event_handlers():
    offenders = []
    for path in TEMPLATES.glob("*/templates/**/*.html"):
        text = path.read_text(encoding="utf-8")
        if _INLINE_SCRIPT.search(text) or _HANDLER.search(text) or "javascript:" in text:
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []
