"""JSON routes for the shop's own settings (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from xiaoer.errors import NotFound
from xiaoer.shops import widget
from xiaoer.shops.models import Shop
from xiaoer.web.deps import DB, Admin, user_actor

router = APIRouter(prefix="/api/v1/shop", tags=["shop"])


class WidgetSettingsBody(BaseModel):
    origins: list[str] = Field(
        default_factory=list,
        max_length=widget.MAX_ORIGINS,
        description="sites allowed to frame the widget, e.g. https://shop.example.com",
    )
    color: str | None = Field(default=None, max_length=7, description="#rrggbb brand colour")


class WidgetSettingsRead(BaseModel):
    origins: list[str]
    color: str | None
    effective_color: str = Field(description="the colour shown, darkened for 4.5:1 contrast")


def _read(settings: widget.WidgetSettings) -> WidgetSettingsRead:
    return WidgetSettingsRead(
        origins=settings.origins, color=settings.color, effective_color=settings.effective_color
    )


@router.get("/widget")
async def get_widget_settings(session: DB, user: Admin) -> WidgetSettingsRead:
    shop = await session.get(Shop, user.shop_id)  # the user's own shop, not a supplied id
    if shop is None:
        raise NotFound("no such shop")
    return _read(widget.widget_settings(shop))


@router.put("/widget")
async def put_widget_settings(
    request: Request, body: WidgetSettingsBody, session: DB, user: Admin
) -> WidgetSettingsRead:
    """Which sites may embed the widget in a frame (CSP frame-ancestors), and its colour."""
    settings = await widget.update_widget_settings(
        session,
        shop_id=user.shop_id,
        actor=user_actor(request, user),
        origins=body.origins,
        color=body.color,
    )
    return _read(settings)
