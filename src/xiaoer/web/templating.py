"""Jinja2 templates (autoescaped: chat text is untrusted) with i18n and CSRF in every page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from xiaoer.web.i18n import LANG_COOKIE, request_locale, translate

_SRC = Path(__file__).resolve().parent.parent
# Each domain keeps its templates in <domain>/templates/<domain>/; web/templates has the layout.
_template_dirs = [str(_SRC / "web" / "templates")] + [
    str(p) for p in sorted(_SRC.glob("*/templates")) if p.parent.name != "web"
]
templates = Jinja2Templates(directory=_template_dirs[0])
templates.env.loader = ChoiceLoader([FileSystemLoader(d) for d in _template_dirs])


def localtime(
    value: dt.datetime | str | None, tz: str = "Asia/Shanghai", fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """`{{ ts|localtime }}`: a stored UTC time shown in the shop's time zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):  # ISO strings from JSON-shaped summaries
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


templates.env.filters["localtime"] = localtime


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    locale = request_locale(request, request.app.state.settings.default_locale)
    ctx: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "_": lambda key, **kw: translate(locale, key, **kw),
        "user": getattr(request.state, "user_view", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    # Pinning the shown language in the cookie lets the page's API calls and sockets answer
    # errors in the same language.
    if request.query_params.get("lang") == locale or request.cookies.get(LANG_COOKIE) != locale:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response
