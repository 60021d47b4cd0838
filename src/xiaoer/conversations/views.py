"""The agent workspace page (`/workspace`): queue, live chat pane, suggestions, customer panel.

The page is a shell; everything on it is loaded by `static/workspace.js` from the staff JSON API
(`/api/v1/conversations…`) and kept live over the staff WebSocket `/ws/agent`
(see docs/subsystems/chat-protocol.md). The customer 360° fragment is htmx-loaded from
`/workspace/customers/{id}/panel` (customers domain).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from xiaoer.bounds import INT64_MAX
from xiaoer.commerce.service import VARIABLE_LABELS
from xiaoer.shops import service as shops
from xiaoer.web.deps import DB, CurrentUser
from xiaoer.web.i18n import catalog, request_locale
from xiaoer.web.templating import render

router = APIRouter()

# The script's strings, plus the system notices so a stored zh-CN notice can show in English.
_JS_PREFIXES = ("workspace.", "conversations.system.")
VIEWS = ("queue", "mine", "open")


def _js_strings(locale: str) -> dict[str, str]:
    """The workspace strings the script needs, in `locale`, falling back to English per key."""
    strings = {k: v for k, v in catalog("en").items() if k.startswith(_JS_PREFIXES)}
    strings.update({k: v for k, v in catalog(locale).items() if k.startswith(_JS_PREFIXES)})
    return strings


@router.get("/workspace", response_class=HTMLResponse)
async def workspace(
    request: Request,
    session: DB,
    user: CurrentUser,
    view: Annotated[str, Query(max_length=10)] = "queue",
    c: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="conversation to open")] = None,
) -> HTMLResponse:
    """`?view=` picks the starting tab and `?c=` the conversation to open; the script checks
    access through the API, so an id here reveals nothing by itself."""
    locale = request_locale(request, request.app.state.settings.default_locale)
    shop = await shops.get_shop(session, shop_id=user.shop_id)
    boot = {
        "me": {"id": user.id, "display_name": user.display_name, "role": str(user.role)},
        "view": view if view in VIEWS else "queue",
        "conversation_id": c,
        "locale": locale,
        # Times show in the shop's time zone, whatever the agent's machine is set to.
        "timezone": shop.timezone if shop else "Asia/Shanghai",
        # What an unfilled variable looks like (【订单号】), so the composer selects those and not
        # a courier's own brackets in a tracking event (快件已到达【杭州转运中心】).
        "placeholders": sorted(set(VARIABLE_LABELS.values())),
    }
    return render(
        request,
        "conversations/workspace.html",
        {"boot": boot, "i18n": _js_strings(locale), "views": VIEWS},
    )
