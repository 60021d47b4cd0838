"""UI strings in zh-CN (default) and en; the locale comes from ?lang=, then the `lang` cookie.
Error texts are looked up by their code (see `error_text`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from starlette.requests import HTTPConnection

LOCALES = ("zh-CN", "en")
LANG_COOKIE = "lang"
_SRC = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=len(LOCALES))
def catalog(locale: str) -> dict[str, str]:
    """Every domain keeps its strings in <domain>/locales/<locale>.json; keys are namespaced."""
    merged: dict[str, str] = {}
    for path in sorted(_SRC.glob(f"*/locales/{locale}.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def request_locale(request: HTTPConnection, default: str) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LOCALES:
            return candidate
    return default


def error_locale(conn: HTTPConnection, default: str) -> str:
    """The language of an error answer: the page's (?lang=, the cookie), else the client's
    Accept-Language; an API client that states nothing gets the API's English."""
    for candidate in (conn.query_params.get("lang"), conn.cookies.get(LANG_COOKIE)):
        if candidate in LOCALES:
            return candidate
    for part in conn.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en" if conn.url.path.startswith("/api/") else default


def error_text(
    locale: str,
    *,
    status: int,
    code: str,
    message: str,
    key: str | None = None,
    params: Mapping[str, object] | None = None,
) -> str:
    """The error's text in `locale`: its own translation when it has one; in English the server's
    text; otherwise the translation of its code (or status), so no English leaks into a page."""
    texts = catalog(locale)
    if key and f"errors.{key}" in texts:
        try:
            return texts[f"errors.{key}"].format(**(params or {}))
        except (KeyError, IndexError, ValueError):
            pass
    if locale == "en":
        return message
    for fallback in (f"errors.code.{code}", f"errors.status.{status}", "errors.status.500"):
        if fallback in texts:
            return texts[fallback]
    return message


def translate(locale: str, key: str, **params: object) -> str:
    text = catalog(locale).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text
