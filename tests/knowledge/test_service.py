"""Script library rules that the bot depends on: the library version moves with every change
to what is published, and validation leaves a script untouched."""

from __future__ import annotations

import pytest

from tests.conftest import in_database
from xiaoer.audit.service import Actor
from xiaoer.errors import InvalidInput
from xiaoer.knowledge import service
from xiaoer.knowledge.library import library_version, list_published
from xiaoer.knowledge.models import Script


def with_rollback(database_url, work):
    return in_database(database_url, work, commit=False)


def test_library_version_moves_with_publish_edit_unpublish_and_delete(demo_shop, database_url):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        versions = [await library_version(session, shop_id=shop_id)]
        script = await service.create_script(
            session, shop_id=shop_id, actor=actor, title="t", answer="a", questions=["q1"]
        )
        # A draft is not part of what the bot answers from.
        versions.append(await library_version(session, shop_id=shop_id))
        await service.publish_script(session, script=script, actor=actor)
        versions.append(await library_version(session, shop_id=shop_id))
        await service.update_script(session, script=script, actor=actor, questions=["q1", "q2"])
        versions.append(await library_version(session, shop_id=shop_id))
        await service.unpublish_script(session, script=script, actor=actor)
        versions.append(await library_version(session, shop_id=shop_id))
        await service.publish_script(session, script=script, actor=actor)
        await service.delete_script(session, script=script, actor=actor)
        versions.append(await library_version(session, shop_id=shop_id))
        return versions

    v = with_rollback(database_url, work)
    assert v[0] == v[1]
    assert v[2] != v[1]
    # Editing a published script makes a draft; the published version keeps serving.
    assert v[3] == v[2]
    assert v[4] != v[3]
    assert v[5] != v[2]


def test_invalid_update_changes_nothing(demo_shop, database_url):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        served = (await list_published(session, shop_id=demo_shop.shop_id))[0]
        script = await session.get(Script, served.id)
        before = service.snapshot(script)
        with pytest.raises(InvalidInput):
            await service.update_script(
                session, script=script, actor=actor, title="new title", answer="{nope}"
            )
        return before, service.snapshot(script)

    before, after = with_rollback(database_url, work)
    assert before == after


def test_answer_variables_are_listed_in_order_of_use():
    assert service.answer_variables("{carrier} {order_no} {carrier} {eta}") == [
        "carrier",
        "order_no",
        "eta",
    ]


def test_every_demo_answer_uses_only_known_variables(demo_shop, database_url):
    async def work(session):
        return [s.answer for s in await list_published(session, shop_id=demo_shop.shop_id)]

    for answer in with_rollback(database_url, work):
        assert set(service.answer_variables(answer)) <= set(service.KNOWN_VARIABLES)
