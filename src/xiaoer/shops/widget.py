"""The shop's customer-widget settings: which sites may frame the widget, and its brand colour."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.errors import InvalidInput, NotFound
from xiaoer.shops.models import Shop
from xiaoer.web.contrast import parse_hex, readable_on_white_text

MAX_ORIGINS = 20
DEFAULT_BRAND = "#cd4b37"  # the demo red, already dark enough for white text (WCAG AA)
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


def normalize_origin(value: str) -> str | None:
    """`https://shop.example.com[:port]` (lower-cased, no path) or None when not an origin.
    Strict on purpose: the value ends up inside a CSP header."""
    value = value.strip().rstrip("/").lower()
    if not _ORIGIN.match(value):
        return None
    host = urlsplit(value).hostname or ""
    if not host or ".." in host or host.startswith((".", "-")):
        return None
    return value


@dataclass(frozen=True)
class WidgetSettings:
    origins: list[str]
    color: str | None
    effective_color: str  # what the widget shows: the colour, darkened if white text would fail


def widget_settings(shop: Shop) -> WidgetSettings:
    origins = [o for o in (normalize_origin(str(v)) for v in shop.widget_origins or ()) if o]
    effective = readable_on_white_text(shop.widget_color or "") or DEFAULT_BRAND
    return WidgetSettings(origins=origins, color=shop.widget_color, effective_color=effective)


async def update_widget_settings(
    session: AsyncSession,
    *,
    shop_id: int,
    actor: Actor,
    origins: Sequence[str],
    color: str | None,
) -> WidgetSettings:
    """Replaces the allowed framing origins and the brand colour; audited when they change."""
    if len(origins) > MAX_ORIGINS:
        raise InvalidInput(f"at most {MAX_ORIGINS} origins", code="too_many_origins")
    cleaned: list[str] = []
    for raw in origins:
        origin = normalize_origin(raw)
        if origin is None:
            raise InvalidInput(
                f"not an origin (https://host[:port]): {raw[:100]}", code="invalid_origin"
            )
        if origin not in cleaned:
            cleaned.append(origin)
    if color is not None and parse_hex(color) is None:
        raise InvalidInput("the colour must look like #1a2b3c", code="invalid_color")
    color = color.lower() if color else None
    if color and not color.startswith("#"):
        color = f"#{color}"
    shop = await session.get(Shop, shop_id)
    if shop is None:
        raise NotFound("no such shop")
    before = {"origins": list(shop.widget_origins or []), "color": shop.widget_color}
    after = {"origins": cleaned, "color": color}
    if before != after:
        shop.widget_origins = cleaned
        shop.widget_color = color
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="widget_settings.updated",
            entity_type="shop",
            entity_id=shop_id,
            before=before,
            after=after,
            shop_id=shop_id,
        )
    return widget_settings(shop)
