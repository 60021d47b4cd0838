"""Staff passwords: at least 10 characters, not among the 30,000 most common passwords (with
digits or symbols stuck on), and not containing the username — in the API and the pages."""

from __future__ import annotations

import uuid

import pytest

from tests.web.login import login
from xiaoer.auth.password_policy import common_passwords, is_common, password_problem


def test_the_shipped_list_holds_the_usual_suspects():
    common = common_passwords()
    assert len(common) == 30_000
    for word in ("123456", "password", "qwertyuiop", "1qaz2wsx", "iloveyou"):
        assert word in common


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pw", "password_too_short"),
        ("qwertyuiop", "password_common"),
        ("Password2026!", "password_common"),  # a common word dressed up
        ("1234567890", "password_common"),
        ("x" * 201, "password_too_long"),
        ("wang.min-is-great", "password_contains_username"),
        ("copper-kettle-sings-4", None),
        ("xiaoer-agent-2026", None),
    ],
)
def test_password_rules(password, problem):
    assert password_problem(password, username="Wang.Min") == problem


def test_decoration_is_stripped_only_around_a_real_word():
    assert is_common("!!monkey123")
    assert not is_common("monkey-business-plan")


def test_api_and_page_refuse_a_common_password_with_its_code(app_client, demo_shop):
    admin = demo_shop.login("admin")
    csrf = login(app_client, admin.username, admin.password)
    api = app_client.post(
        "/api/v1/users",
        json={"username": f"p-{uuid.uuid4().hex[:8]}", "password": "baseball123"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 422
    assert api.json()["error"] == "password_common"
    for lang, text in (("zh-CN", "最常见的密码"), ("en", "most common passwords")):
        page = app_client.post(
            f"/admin/users?lang={lang}",
            data={
                "csrf_token": csrf,
                "username": f"p-{uuid.uuid4().hex[:8]}",
                "role": "agent",
                "password": "baseball123",
            },
        )
        assert page.status_code == 422
        assert text in page.text
