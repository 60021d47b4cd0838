"""What the bot serves: published versions, channel wordings, A/B variants, trigger conditions."""

from __future__ import annotations

from sqlalchemy import select

from xiaoer import clock
from xiaoer.audit.service import Actor
from xiaoer.bot import service as bot
from xiaoer.bot.engine import training_questions
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.customers.models import Customer
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge import versions
from xiaoer.knowledge.library import PublishedScript, ab_bucket
from xiaoer.knowledge.models import ScriptEvent, ScriptEventKind

QUESTIONS = ["直播间抽奖怎么参加", "抽奖活动在哪参加", "直播抽奖规则是啥", "怎么参与抽奖"]


async def _lottery(session, shop_id, actor, **kw):
    return await knowledge.create_script(
        session,
        shop_id=shop_id,
        actor=actor,
        title="直播抽奖",
        answer="关注直播间即可参与抽奖",
        questions=QUESTIONS,
        category="咨询/活动",
        publish=True,
        **kw,
    )


async def _ask(session, registry, shop_id, **kw):
    return await bot.decide(session, registry=registry, shop_id=shop_id, text="抽奖怎么参加", **kw)


def test_a_draft_edit_keeps_the_published_version_serving_until_published_again(
    demo_shop, registry, in_session
):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        script = await _lottery(session, shop_id, actor)
        first = await _ask(session, registry, shop_id)
        await knowledge.update_script(
            session, script=script, actor=actor, answer="新规则：评论即可"
        )
        while_draft = await _ask(session, registry, shop_id)
        status_while_draft = str(script.status)
        await knowledge.publish_script(session, script=script, actor=actor)
        after_publish = await _ask(session, registry, shop_id)
        await versions.rollback(session, script=script, actor=actor, version=1)
        after_rollback = await _ask(session, registry, shop_id)
        history = [v.version for v in await versions.list_versions(session, script_id=script.id)]
        return (
            status_while_draft,
            [first.answer, while_draft.answer, after_publish.answer, after_rollback.answer],
            history,
            script.published_version,
        )

    status, answers, history, served = in_session(work)
    assert status == "draft"
    assert answers == [
        "关注直播间即可参与抽奖",
        "关注直播间即可参与抽奖",
        "新规则：评论即可",
        "关注直播间即可参与抽奖",
    ]
    # Rollback publishes version 1's content as a new version 3; nothing is rewritten.
    assert history == [3, 2, 1]
    assert served == 3


def test_each_channel_gets_its_own_wording_or_the_default(demo_shop, registry, in_session):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        await _lottery(
            session,
            shop_id,
            actor,
            answers={("phone", "A"): "您好，抽奖分三步：第一步关注直播间……"},
        )
        return {
            channel: (await _ask(session, registry, shop_id, channel=channel)).answer
            for channel in ("im", "phone", "email")
        }

    answers = in_session(work)
    assert answers["phone"].startswith("您好，抽奖分三步")
    assert answers["im"] == answers["email"] == "关注直播间即可参与抽奖"


def test_an_ab_test_splits_customers_stably_and_records_the_variant(
    demo_shop, registry, in_session
):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        script = await _lottery(session, shop_id, actor, answers={("im", "B"): "B：关注即可抽奖🎁"})
        script.ab_split = 0.5
        script.published_at = clock.now()  # what is served changed: the matcher must reload
        await session.flush()
        customers = [Customer(shop_id=shop_id, name=f"c{i}") for i in range(40)]
        session.add_all(customers)
        await session.flush()
        seen = {}
        for c in customers:
            one = await _ask(session, registry, shop_id, customer_id=c.id)
            two = await _ask(session, registry, shop_id, customer_id=c.id)
            assert (one.variant, one.answer) == (two.variant, two.answer)
            seen[c.id] = one
        # The decision's variant is stored with the bot_answered event.
        c0 = customers[0]
        conversation = Conversation(shop_id=shop_id, customer_id=c0.id)
        session.add(conversation)
        await session.flush()
        message = Message(
            conversation_id=conversation.id, sender_type=SenderType.customer, body="抽奖怎么参加"
        )
        session.add(message)
        await session.flush()
        await bot.record_decision(
            session,
            shop_id=shop_id,
            conversation_id=conversation.id,
            message_id=message.id,
            result=seen[c0.id],
        )
        event = await session.scalar(
            select(ScriptEvent).where(ScriptEvent.message_id == message.id)
        )
        return script.id, seen, (event.kind, event.script_id, event.variant)

    sid, seen, event = in_session(work)
    variants = {cid: r.variant for cid, r in seen.items()}
    assert set(variants.values()) == {"A", "B"}
    for cid, result in seen.items():
        expected = "B" if ab_bucket(sid, cid) < 0.5 else "A"
        assert result.variant == expected
        assert result.answer == (
            "B：关注即可抽奖🎁" if expected == "B" else "关注直播间即可参与抽奖"
        )
    first = next(iter(seen))
    assert event == (ScriptEventKind.bot_answered, sid, seen[first].variant)


def test_customer_tag_trigger_limits_a_script_to_those_customers(demo_shop, registry, in_session):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        script = await _lottery(session, shop_id, actor, triggers={"customer_tags": ["VIP"]})
        vip = Customer(shop_id=shop_id, name="v", tags=["VIP"])
        plain = Customer(shop_id=shop_id, name="p", tags=[])
        session.add_all([vip, plain])
        await session.flush()
        return (
            script.id,
            await _ask(session, registry, shop_id, customer_id=vip.id),
            await _ask(session, registry, shop_id, customer_id=plain.id),
        )

    sid, for_vip, for_plain = in_session(work)
    assert for_vip.script_id == sid
    assert for_plain.script_id != sid


def test_an_agents_only_script_is_never_the_bots_answer_until_the_bot_may_use_it(
    demo_shop, registry, in_session
):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        shop_id = demo_shop.shop_id
        script = await _lottery(session, shop_id, actor, bot_enabled=False)
        ask = [
            await bot.decide(session, registry=registry, shop_id=shop_id, text=q) for q in QUESTIONS
        ]
        # Still served to the assist panel, just not trained into the bot's matcher.
        library = await registry.library(session, shop_id)
        kept = library.scripts[script.id].bot_enabled
        # A draft turning the bot on changes nothing until it is published.
        await knowledge.update_script(session, script=script, actor=actor, bot_enabled=True)
        while_draft = await bot.decide(
            session, registry=registry, shop_id=shop_id, text=QUESTIONS[0]
        )
        await knowledge.publish_script(session, script=script, actor=actor)
        enabled = [
            await bot.decide(session, registry=registry, shop_id=shop_id, text=q) for q in QUESTIONS
        ]
        return script.id, ask, kept, while_draft, enabled

    sid, off, kept, while_draft, on = in_session(work)
    assert kept is False
    for result in (*off, while_draft):
        assert result.script_id != sid
        assert result.answer != "关注直播间即可参与抽奖"
    assert [r.script_id for r in on] == [sid] * len(QUESTIONS)
    assert {r.answer for r in on} == {"关注直播间即可参与抽奖"}


def test_trigger_conditions_and_keywords():
    script = PublishedScript(
        id=1,
        version=1,
        title="t",
        category="售后/退款",
        answer="a",
        questions=("q",),
        triggers={
            "channels": ["phone"],
            "emotions": ["anger"],
            "intents": ["退运费"],
            "keywords": ["运费险", "q"],
        },
    )
    assert script.kind == "after_sale"
    assert script.allows(channel="phone", emotion="anger")
    assert not script.allows(channel="im", emotion="anger")
    assert not script.allows(channel="phone", emotion="neutral")
    # Intents and keywords widen what the matcher learns for the script (once each).
    assert training_questions(script) == ["q", "退运费", "运费险"]


def test_rollback_restores_the_bot_flag_and_the_diff_shows_it(demo_shop, registry, in_session):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        script = await _lottery(session, demo_shop.shop_id, actor)
        await knowledge.update_script(session, script=script, actor=actor, bot_enabled=False)
        await knowledge.publish_script(session, script=script, actor=actor)
        changes = await versions.diff(session, script=script, old=1, new=2)
        await versions.rollback(session, script=script, actor=actor, version=1)
        answered = await _ask(session, registry, demo_shop.shop_id)
        return script.id, changes, script.bot_enabled, answered.script_id

    sid, changes, flag, answered_by = in_session(work)
    assert [c["field"] for c in changes] == ["bot_enabled"]
    assert [(line["op"], line["text"]) for line in changes[0]["lines"]] == [("-", "1"), ("+", "0")]
    assert flag is True
    assert answered_by == sid
