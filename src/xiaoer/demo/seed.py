"""Seed the demo shop. (Minimal version: shop and staff; customers, orders, scripts to come.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit.service import Actor
from xiaoer.auth.models import Role
from xiaoer.auth.service import create_user
from xiaoer.shops.models import Shop


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    display_name: str


@dataclass(frozen=True)
class DemoShop:
    shop_id: int
    slug: str
    logins: list[DemoLogin] = field(default_factory=list)

    def login(self, role: str, index: int = 0) -> DemoLogin:
        return [x for x in self.logins if x.role == role][index]


STAFF = [
    ("admin", "店长 王敏", Role.admin, "xiaoer-admin-2026"),
    ("supervisor", "主管 李娜", Role.supervisor, "xiaoer-super-2026"),
    ("agent1", "客服 小美", Role.agent, "xiaoer-agent-2026"),
    ("agent2", "客服 小杰", Role.agent, "xiaoer-agent-2026"),
    ("agent3", "客服 阿强", Role.agent, "xiaoer-agent-2026"),
]


async def seed_demo_shop(
    session: AsyncSession, *, slug: str = "demo", username_prefix: str = ""
) -> DemoShop:
    shop = Shop(slug=slug, name="小二优选旗舰店", timezone="Asia/Shanghai")
    session.add(shop)
    await session.flush()
    actor = Actor.system(shop.id)
    logins = []
    for name, display, role, password in STAFF:
        username = f"{username_prefix}{name}"
        await create_user(
            session, shop_id=shop.id, username=username, password=password, role=role,
            display_name=display, actor=actor,
        )
        logins.append(DemoLogin(username, password, str(role), display))
    return DemoShop(shop_id=shop.id, slug=slug, logins=logins)
