"""Dense rules of the conversation service, checked straight on the service functions."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from xiaoer.auth.models import User
from xiaoer.auth.service import actor_for
from xiaoer.bot.engine import BotRegistry
from xiaoer.conversations import service
from xiaoer.conversations.models import Message, SenderType
from xiaoer.customers import service as customers
from xiaoer.db import make_engine, make_sessionmaker, transaction


def test_bot_stays_silent_when_an_agent_accepts_while_it_thinks(database_url, demo_shop):
    """The bot decides before the write turn; if an agent took the conversation meanwhile, the
    customer's message is stored but the bot must not answer."""

    async def scenario() -> list[str]:
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        registry = BotRegistry(sessions)
        try:
            async with transaction(sessions) as session:
                visitor = await customers.get_or_create_visitor(
                    session, shop_id=demo_shop.shop_id, token=None
                )
                customer_id = visitor.customer_id
                first = await service.post_customer_message(
                    session,
                    shop_id=demo_shop.shop_id,
                    customer_id=customer_id,
                    client_msg_id="first",
                    body="多久发货",
                    bot_registry=registry,
                )
                conversation_id = first.conversation.id
            async with transaction(sessions) as session:
                plan = await service.prepare_customer_message(
                    session,
                    shop_id=demo_shop.shop_id,
                    customer_id=customer_id,
                    client_msg_id=str(uuid.uuid4()),
                    body="能发顺丰吗",
                    bot_registry=registry,
                )
                assert plan.decision is not None  # the bot has its answer ready
                async with transaction(sessions) as other:
                    agent = await other.scalar(
                        select(User).where(User.username == demo_shop.login("agent").username)
                    )
                    assert agent is not None
                    conversation = await service.access_conversation(other, agent, conversation_id)
                    await service.accept_conversation(
                        other, conversation=conversation, user=agent, actor=actor_for(agent)
                    )
                post = await service.store_customer_message(session, plan=plan)
                assert post.conversation.status == "active"
            async with transaction(sessions) as session:
                result = await session.scalars(
                    select(Message.sender_type)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id)
                )
                return [str(s) for s in result]
        finally:
            await engine.dispose()

    kinds = asyncio.run(scenario())
    # customer, bot | system (accepted) | customer — and no bot answer after the accept.
    assert kinds[:2] == ["customer", "bot"]
    assert kinds[-1] == SenderType.customer
    assert kinds.count("bot") == 1
