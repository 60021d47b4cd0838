"""Customer 360° in HTML: the workspace side-panel fragment and the full customer page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from xiaoer.bounds import Id
from xiaoer.customers import overview, service
from xiaoer.shops.service import shop_timezone
from xiaoer.web.deps import DB, CurrentUser
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)

PANEL_ITEMS = 5


@router.get("/workspace/customers/{customer_id}/panel")
async def customer_panel(
    request: Request, customer_id: Id, session: DB, user: CurrentUser
) -> Response:
    """An htmx fragment (no layout) for the workspace's right column."""
    customer = await service.access_customer(session, user, customer_id)
    tz = await shop_timezone(session, shop_id=user.shop_id)
    view = await overview.customer_360(session, viewer=user, customer=customer, tz=tz)
    return render(request, "customers/_panel.html", {"c": view, "tz": tz, "n": PANEL_ITEMS})


@router.get("/customers/{customer_id}")
async def customer_page(
    request: Request, customer_id: Id, session: DB, user: CurrentUser
) -> Response:
    customer = await service.access_customer(session, user, customer_id)
    tz = await shop_timezone(session, shop_id=user.shop_id)
    view = await overview.customer_360(session, viewer=user, customer=customer, tz=tz, limit=50)
    return render(request, "customers/detail.html", {"c": view, "tz": tz})
