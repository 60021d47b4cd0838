"""The answer pipeline on the seeded demo shop: real orders, real scripts, real NLP."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from xiaoer.audit.service import Actor
from xiaoer.bot import service as bot
from xiaoer.commerce import service as commerce
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.library import list_published
from xiaoer.knowledge.models import Script


def shipment_of(sync_engine, shop_id, order_no):
    with sync_engine.connect() as conn:
        return conn.execute(
            text(
                "select s.carrier, s.tracking_no, s.status from shipment s join shop_order o "
                "on o.id = s.order_id where o.order_no = :n and o.shop_id = :s"
            ),
            {"n": order_no, "s": shop_id},
        ).one()


def decide(in_session, registry, shop, message, **kw):
    async def work(session):
        return await bot.decide(
            session, registry=registry, shop_id=shop.shop_id, text=message, **kw
        )

    return in_session(work)


def test_where_is_my_order_answers_with_its_real_carrier_and_status(
    demo_shop, registry, in_session, sync_engine
):
    order_no = demo_shop.sample_order_nos["in_transit"]
    real = shipment_of(sync_engine, demo_shop.shop_id, order_no)
    result = decide(in_session, registry, demo_shop, f"我的订单 {order_no} 到哪了")
    assert not result.handoff
    assert result.script_title == "查询物流进度"
    assert order_no in result.answer
    assert real.carrier in result.answer
    assert real.tracking_no in result.answer
    assert commerce.SHIPMENT_STATUS_LABELS[real.status] in result.answer
    assert "{" not in result.answer
    assert {"type": "order_no", "value": order_no} == {
        k: result.entities[0][k] for k in ("type", "value")
    }


def test_tracking_number_finds_the_order(demo_shop, registry, in_session):
    carrier, tracking_no = next(iter(demo_shop.sample_tracking_nos.items()))
    result = decide(in_session, registry, demo_shop, f"快递单号{tracking_no}到哪了")
    assert result.script_id is not None
    assert tracking_no in result.answer
    assert carrier in result.answer


def test_without_an_order_number_the_customers_latest_order_is_used(
    demo_shop, registry, in_session
):
    async def latest(session):
        order = await commerce.latest_order(
            session, shop_id=demo_shop.shop_id, customer_id=demo_shop.sample_customer_id
        )
        return order.order_no

    latest_no = in_session(latest)
    result = decide(
        in_session, registry, demo_shop, "帮我查下物流", customer_id=demo_shop.sample_customer_id
    )
    assert latest_no in result.answer
    assert not result.needs_order


def test_asks_for_the_order_number_when_none_is_known(demo_shop, registry, in_session):
    result = decide(in_session, registry, demo_shop, "帮我查下物流")
    assert result.script_title == "查询物流进度"
    assert result.needs_order
    assert result.answer == bot.ASK_ORDER_NO
    unknown = decide(in_session, registry, demo_shop, "订单XE26010158390721到哪了")
    assert unknown.needs_order
    assert "XE26010158390721" in unknown.answer


def test_answers_without_order_variables_need_no_order(demo_shop, registry, in_session):
    result = decide(in_session, registry, demo_shop, "可以开发票吗")
    assert result.script_title == "开具发票" or not result.needs_order
    general = decide(in_session, registry, demo_shop, "你们包邮吗")
    assert general.script_title == "包邮与运费"
    assert not general.needs_order
    assert "99" in general.answer


@pytest.mark.parametrize(
    "message", ["转人工", "人工客服", "我要找客服", "叫个真人来", "别用机器人回我", "human please"]
)
def test_asking_for_a_person_hands_off(demo_shop, registry, in_session, message):
    result = decide(in_session, registry, demo_shop, message)
    assert result.handoff
    assert result.handoff_reason == "customer_request"


def test_questions_about_customer_service_are_answered_not_handed_off(
    demo_shop, registry, in_session
):
    result = decide(in_session, registry, demo_shop, "客服几点上班")
    assert not result.handoff
    assert result.script_title == "客服工作时间"


def test_angry_customer_is_handed_off(demo_shop, registry, in_session):
    result = decide(in_session, registry, demo_shop, "你们就是骗子！！我要去12315投诉")
    assert result.handoff
    assert result.handoff_reason == "negative_emotion"
    assert result.emotion["polarity"] == "negative"


def test_not_understood_twice_hands_off(demo_shop, registry, in_session):
    first = decide(in_session, registry, demo_shop, "今天天气怎么样", unanswered_turns=0)
    assert not first.handoff
    assert first.script_id is None
    assert first.answer == bot.NOT_UNDERSTOOD
    second = decide(in_session, registry, demo_shop, "今天天气怎么样", unanswered_turns=1)
    assert second.handoff
    assert second.handoff_reason == "unanswered_turns"


def test_newly_published_script_is_answered_and_unpublished_one_is_not(
    demo_shop, registry, in_session
):
    actor = Actor.system(demo_shop.shop_id)
    questions = ["直播间抽奖怎么参加", "抽奖活动在哪参加", "直播抽奖规则是啥", "怎么参与抽奖"]

    async def work(session):
        shop_id = demo_shop.shop_id
        script = await knowledge.create_script(
            session,
            shop_id=shop_id,
            actor=actor,
            title="直播抽奖",
            answer="关注直播间即可参与",
            questions=questions,
            category="咨询/优惠",
            publish=True,
        )
        asked = await bot.decide(session, registry=registry, shop_id=shop_id, text="抽奖怎么参加")
        await knowledge.unpublish_script(session, script=script, actor=actor)
        again = await bot.decide(session, registry=registry, shop_id=shop_id, text="抽奖怎么参加")
        return script.id, asked, again

    sid, asked, again = in_session(work)
    assert asked.script_id == sid
    assert again.script_id != sid


def test_suggestions_fill_what_they_can_and_mark_the_rest(demo_shop, registry, in_session):
    async def work(session):
        return await bot.suggest(
            session, registry=registry, shop_id=demo_shop.shop_id, text="我的快递到哪了", k=3
        )

    suggestions = in_session(work)
    assert len(suggestions) == 3
    assert suggestions[0].title == "查询物流进度"
    assert "【订单号】" in suggestions[0].text
    assert "{" not in suggestions[0].text
    assert suggestions[0].score >= suggestions[1].score >= suggestions[2].score

    order_no = demo_shop.sample_order_nos["delivered"]

    async def with_order(session):
        order = await commerce.find_order(session, shop_id=demo_shop.shop_id, order_no=order_no)
        return await bot.suggest(
            session,
            registry=registry,
            shop_id=demo_shop.shop_id,
            text="我的快递到哪了",
            order_id=order.id,
        )

    filled = in_session(with_order)
    assert order_no in filled[0].text
    assert "已签收" in filled[0].text


def test_record_decision_stores_the_decision(demo_shop, registry, in_session):
    from xiaoer.bot.models import BotDecision
    from xiaoer.conversations.models import Conversation, Message, SenderType

    order_no = demo_shop.sample_order_nos["shipped"]

    async def work(session):
        conversation = Conversation(
            shop_id=demo_shop.shop_id, customer_id=demo_shop.sample_customer_id
        )
        session.add(conversation)
        await session.flush()
        message = Message(
            conversation_id=conversation.id,
            sender_type=SenderType.customer,
            body=f"{order_no}发货了吗到哪了",
        )
        session.add(message)
        await session.flush()
        result = await bot.decide(
            session,
            registry=registry,
            shop_id=demo_shop.shop_id,
            text=message.body,
            customer_id=demo_shop.sample_customer_id,
        )
        row = await bot.record_decision(
            session,
            shop_id=demo_shop.shop_id,
            conversation_id=conversation.id,
            message_id=message.id,
            result=result,
        )
        stored = await session.get(BotDecision, row.id)
        return result, stored

    result, stored = in_session(work)
    assert stored.script_id == result.script_id
    assert stored.confidence == pytest.approx(result.confidence)
    assert stored.entities[0]["value"] == order_no
    assert stored.answer == result.answer
    assert stored.handoff is False


def test_a_failing_model_hands_off_instead_of_breaking_the_chat(demo_shop, in_session, monkeypatch):
    from xiaoer.bot import engine

    def broken(*_args, **_kwargs):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(engine, "train_matcher", broken)
    fresh = engine.BotRegistry(None)

    async def work(session):
        result = await bot.decide(
            session, registry=fresh, shop_id=demo_shop.shop_id, text="我的快递到哪了"
        )
        suggestions = await bot.suggest(
            session, registry=fresh, shop_id=demo_shop.shop_id, text="我的快递到哪了"
        )
        return result, suggestions

    result, suggestions = in_session(work)
    assert result.handoff
    assert result.handoff_reason == "low_confidence"
    assert suggestions == []


def test_shop_without_published_scripts_hands_off(demo_shop, registry, in_session):
    actor = Actor.system(demo_shop.shop_id)

    async def work(session):
        for served in await list_published(session, shop_id=demo_shop.shop_id):
            script = await session.get(Script, served.id)
            await knowledge.unpublish_script(session, script=script, actor=actor)
        return await bot.decide(
            session, registry=registry, shop_id=demo_shop.shop_id, text="我的快递到哪了"
        )

    result = in_session(work)
    assert result.handoff
    assert result.handoff_reason == "low_confidence"
