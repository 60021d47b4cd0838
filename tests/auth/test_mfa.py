"""Two-step login: enrolment with the key or otpauth URI, the code step at login, one-time
TOTP codes and recovery codes, the shop's requirement for admins and supervisors, resets;
every step audited."""

from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import text
from starlette.testclient import TestClient

from tests.web.login import login, login_form_token

_KEY = re.compile(r'data-testid="mfa-manual-key">([A-Z2-7 ]+)<')
_ENROL_TOKEN = re.compile(r'name="enrol_token" value="([^"]+)"')
_CODES = re.compile(r"<li>([a-z0-9]{5}-[a-z0-9]{5})</li>")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _password_step(client: TestClient, username: str, password: str, next_path: str = "/workspace"):  # type: ignore[no-untyped-def]
    token = login_form_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def _enrol(client: TestClient, path: str = "/account/mfa") -> tuple[str, list[str]]:
    """Scans the page's key like an authenticator app and turns MFA on; returns the secret and
    the recovery codes shown once."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    secret = _KEY.search(page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    assert f"secret={secret}" in page.text  # the otpauth:// URI carries the same key
    done = client.post(
        "/account/mfa",
        data={
            "csrf_token": _CSRF.search(page.text).group(1),  # type: ignore[union-attr]
            "enrol_token": _ENROL_TOKEN.search(page.text).group(1),  # type: ignore[union-attr]
            "code": pyotp.TOTP(secret).now(),
        },
    )
    assert done.status_code == 200, done.text
    codes = _CODES.findall(done.text)
    assert len(codes) == 10
    return secret, codes


def _csrf_of_page(client: TestClient, path: str) -> str:
    return _CSRF.search(client.get(path).text).group(1)  # type: ignore[union-attr]


def _code_step(client: TestClient, code: str, next_path: str = "/workspace"):  # type: ignore[no-untyped-def]
    return client.post(
        "/login/mfa",
        data={"csrf_token": _csrf_of_page(client, "/login/mfa"), "code": code, "next": next_path},
        follow_redirects=False,
    )


def _previous_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() - 30)


def test_enrolled_user_needs_a_code_after_the_password(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent")
    login(app_client, agent.username, agent.password)
    secret, codes = _enrol(app_client)
    app_client.cookies.clear()

    first = _password_step(app_client, agent.username, agent.password, "/tickets")
    assert first.status_code == 303
    assert first.headers["location"] == "/login/mfa?next=/tickets"
    # Half-way is not logged in.
    assert app_client.get("/api/v1/me").status_code == 401
    assert _code_step(app_client, "000000", "/tickets").status_code == 401
    assert app_client.get("/api/v1/me").status_code == 401
    # The code before the one used at enrolment is older than that: refused as a replay.
    assert _code_step(app_client, _previous_code(secret), "/tickets").status_code == 401
    step = _code_step(app_client, pyotp.TOTP(secret).at(time.time() + 30), "/tickets")
    assert step.status_code == 303
    assert step.headers["location"] == "/tickets"
    assert app_client.get("/api/v1/me").json()["username"] == agent.username

    with sync_engine.connect() as conn:
        actions = dict(
            conn.execute(
                text(
                    "select action, count(*) from audit_entry where actor_name = :u"
                    " and action like 'auth.mfa%' group by action"
                ),
                {"u": agent.username},
            ).all()
        )
    assert actions == {"auth.mfa_enabled": 1, "auth.mfa_failed": 2, "auth.mfa_verified": 1}
    assert codes  # used in the recovery test below


def test_a_totp_code_and_a_recovery_code_each_work_once(app_client, settings, demo_shop):
    agent = demo_shop.login("agent", 1)
    login(app_client, agent.username, agent.password)
    secret, codes = _enrol(app_client)
    app_client.cookies.clear()
    _password_step(app_client, agent.username, agent.password)
    next_code = pyotp.TOTP(secret).at(time.time() + 30)
    assert _code_step(app_client, next_code).status_code == 303
    app_client.cookies.clear()
    _password_step(app_client, agent.username, agent.password)
    assert _code_step(app_client, next_code).status_code == 401  # the same code again
    assert _code_step(app_client, codes[0].upper()).status_code == 303  # recovery, any case
    app_client.cookies.clear()
    _password_step(app_client, agent.username, agent.password)
    assert _code_step(app_client, codes[0]).status_code == 401  # used up
    assert _code_step(app_client, codes[1]).status_code == 303


def test_wrong_codes_are_throttled(app_client, demo_shop):
    agent = demo_shop.login("agent", 2)
    login(app_client, agent.username, agent.password)
    secret, _codes = _enrol(app_client)
    app_client.cookies.clear()
    _password_step(app_client, agent.username, agent.password)
    for _ in range(5):
        assert _code_step(app_client, "123456").status_code == 401
    blocked = _code_step(app_client, pyotp.TOTP(secret).at(time.time() + 30))
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_shop_requirement_sends_supervisors_to_enrolment_before_anything_else(
    app_client, settings, demo_shop, sync_engine
):
    admin = demo_shop.login("admin")
    headers = {"X-CSRF-Token": login(app_client, admin.username, admin.password)}
    put = app_client.put("/api/v1/security", json={"mfa_required": True}, headers=headers)
    assert put.status_code == 200
    assert app_client.get("/api/v1/security").json() == {"mfa_required": True}

    supervisor = demo_shop.login("supervisor")
    agent = demo_shop.login("agent")
    with TestClient(app_client.app) as sup:
        first = _password_step(sup, supervisor.username, supervisor.password)
        assert first.headers["location"] == "/account/mfa?next=/workspace"
        assert sup.get("/api/v1/me").status_code == 401
        workspace = sup.get("/workspace", headers={"accept": "text/html"}, follow_redirects=False)
        assert workspace.status_code == 303  # to /login, which sends the login on to enrolment
        assert (
            sup.get("/login", follow_redirects=False).headers["location"].startswith("/account/mfa")
        )
        page = sup.get("/account/mfa?next=/workspace")
        assert 'data-testid="mfa-required-note"' in page.text
        _enrol(sup, "/account/mfa?next=/workspace")
        assert sup.get("/api/v1/me").json()["username"] == supervisor.username
        # The requirement holds: a supervisor cannot turn it off.
        csrf = sup.get("/api/v1/me").json()["csrf_token"]
        off = sup.post(
            "/account/mfa/disable", data={"csrf_token": csrf, "password": supervisor.password}
        )
        assert off.status_code == 403
    with TestClient(app_client.app) as agent_client:  # agents are not covered by the rule
        assert (
            _password_step(agent_client, agent.username, agent.password).headers["location"]
            == "/workspace"
        )

    with sync_engine.connect() as conn:
        changed = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'shop.mfa_requirement_changed'"
                " and shop_id = :s"
            ),
            {"s": demo_shop.shop_id},
        ).scalar()
    assert changed == 1


def test_admin_resets_a_lost_authenticator_and_ends_the_users_sessions(
    app_client, demo_shop, sync_engine
):
    agent = demo_shop.login("agent", 1)
    with TestClient(app_client.app) as agent_client:
        login(agent_client, agent.username, agent.password)
        _enrol(agent_client)
        assert agent_client.get("/api/v1/me").status_code == 200
        admin = demo_shop.login("admin")
        headers = {"X-CSRF-Token": login(app_client, admin.username, admin.password)}
        uid = next(
            u["id"]
            for u in app_client.get("/api/v1/users").json()
            if u["username"] == agent.username
        )
        assert app_client.get("/api/v1/users").json()  # listed with mfa_enabled_at
        admin_id = app_client.get("/api/v1/me").json()["id"]
        own = app_client.post(f"/api/v1/users/{admin_id}/mfa/reset", headers=headers)
        assert own.status_code == 403  # an admin cannot skip the shop's rule for themselves
        reset = app_client.post(f"/api/v1/users/{uid}/mfa/reset", headers=headers)
        assert reset.status_code == 204
        assert agent_client.get("/api/v1/me").status_code == 401
        agent_client.cookies.clear()
        # No second step any more.
        assert (
            _password_step(agent_client, agent.username, agent.password).headers["location"]
            == "/workspace"
        )
    with sync_engine.connect() as conn:
        left = conn.execute(
            text("select count(*) from mfa_recovery_code where user_id = :u"), {"u": uid}
        ).scalar()
        audited = conn.execute(
            text(
                "select count(*) from audit_entry where action = 'auth.mfa_reset'"
                " and entity_id = :u"
            ),
            {"u": str(uid)},
        ).scalar()
    assert left == 0
    assert audited == 1


def test_recovery_codes_are_stored_hashed(app_client, demo_shop, sync_engine):
    agent = demo_shop.login("agent", 2)
    login(app_client, agent.username, agent.password)
    _secret, codes = _enrol(app_client)
    with sync_engine.connect() as conn:
        stored = (
            conn.execute(
                text(
                    "select code_hash from mfa_recovery_code c"
                    " join user_account u on u.id = c.user_id"
                    " where u.username = :u"
                ),
                {"u": agent.username},
            )
            .scalars()
            .all()
        )
    assert len(stored) == 10
    plain = {c.replace("-", "") for c in codes}
    assert not plain & set(stored)
    assert all(len(h) == 64 for h in stored)
