"""The shop as other domains see it: its time zone, the row, one settings section.

Other domains ask these instead of reading or writing the `shop` table themselves, so the
shop's columns have one owner. Writes: a settings section another domain validates (the lint
rules, the MFA requirement) through `set_settings_section`; the widget's look and origins
through `xiaoer.shops.widget`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.errors import InvalidInput, NotFound
from xiaoer.shops.models import Shop

DEFAULT_TIMEZONE = "Asia/Shanghai"


async def get_shop(session: AsyncSession, *, shop_id: int) -> Shop | None:
    """The shop by id, as the session holds it (pending changes included)."""
    return await session.get(Shop, shop_id)


async def shop_timezone(session: AsyncSession, *, shop_id: int) -> str:
    """The time zone staff pages and order variables show times in (stored times are UTC)."""
    tz = await session.scalar(select(Shop.timezone).where(Shop.id == shop_id))
    return tz or DEFAULT_TIMEZONE


async def shop_by_slug(session: AsyncSession, slug: str) -> Shop:
    """The shop a widget URL names; NotFound for an unknown slug."""
    shop = await session.scalar(select(Shop).where(Shop.slug == slug))
    if shop is None:
        raise NotFound("shop not found")
    return shop


async def settings_section(session: AsyncSession, *, shop_id: int, section: str) -> Any:
    """One section of the shop's settings as stored (`"lint"`, `"security"`), None when the
    shop or the section is missing. Each section belongs to the domain that validates it."""
    shop = await session.get(Shop, shop_id)
    return (shop.settings or {}).get(section) if shop is not None else None


async def set_settings_section(
    session: AsyncSession, *, shop_id: int, section: str, value: dict[str, Any]
) -> None:
    """Replaces one section of the shop's settings; the caller validated and audits it.
    InvalidInput for an unknown shop."""
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise InvalidInput("unknown shop")
    # A new dict, so the JSON column is seen as changed.
    shop.settings = {**(shop.settings or {}), section: value}
