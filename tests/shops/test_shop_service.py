"""The shop as other domains see it: `xiaoer.shops.service` is the one reader and writer of the
shop row for them (time zone, settings sections, lookup by slug)."""

from __future__ import annotations

import pytest

from xiaoer.audit.service import Actor
from xiaoer.auth import mfa
from xiaoer.errors import InvalidInput, NotFound
from xiaoer.knowledge import rules
from xiaoer.shops import service as shops


def test_a_settings_section_is_replaced_without_touching_the_others(in_session, demo_shop):
    async def work(session):  # type: ignore[no-untyped-def]
        await shops.set_settings_section(
            session, shop_id=demo_shop.shop_id, section="lint", value={"rules": {}}
        )
        await shops.set_settings_section(
            session, shop_id=demo_shop.shop_id, section="security", value={"mfa_required": True}
        )
        await session.flush()
        lint = await shops.settings_section(session, shop_id=demo_shop.shop_id, section="lint")
        security = await shops.settings_section(
            session, shop_id=demo_shop.shop_id, section="security"
        )
        missing = await shops.settings_section(session, shop_id=demo_shop.shop_id, section="x")
        return lint, security, missing

    lint, security, missing = in_session(work)
    assert lint == {"rules": {}}
    assert security == {"mfa_required": True}
    assert missing is None


def test_mfa_requirement_and_lint_rules_go_through_the_shop_service(in_session, demo_shop):
    async def work(session):  # type: ignore[no-untyped-def]
        before = await mfa.mfa_required_for_shop(session, shop_id=demo_shop.shop_id)
        await mfa.set_shop_mfa_requirement(
            session, shop_id=demo_shop.shop_id, required=True, actor=Actor.system(demo_shop.shop_id)
        )
        after = await mfa.mfa_required_for_shop(session, shop_id=demo_shop.shop_id)
        cleaned = await rules.update_settings(
            session,
            shop_id=demo_shop.shop_id,
            actor=Actor.system(demo_shop.shop_id),
            raw={"rules": {"absolute_promise": {"allowed": ["假一赔十"]}}},
        )
        stored = await shops.settings_section(session, shop_id=demo_shop.shop_id, section="lint")
        security = await shops.settings_section(
            session, shop_id=demo_shop.shop_id, section="security"
        )
        return before, after, cleaned, stored, security

    before, after, cleaned, stored, security = in_session(work)
    assert (before, after) == (False, True)
    assert stored == cleaned
    assert security == {"mfa_required": True}  # the lint change kept the security section


def test_unknown_shops_are_refused(in_session, demo_shop):
    async def work(session):  # type: ignore[no-untyped-def]
        with pytest.raises(NotFound):
            await shops.shop_by_slug(session, f"{demo_shop.slug}-missing")
        with pytest.raises(InvalidInput):
            await shops.set_settings_section(session, shop_id=2**62, section="lint", value={})
        assert await shops.get_shop(session, shop_id=2**62) is None
        assert await shops.shop_timezone(session, shop_id=2**62) == shops.DEFAULT_TIMEZONE
        return (await shops.shop_by_slug(session, demo_shop.slug)).id

    assert in_session(work) == demo_shop.shop_id
