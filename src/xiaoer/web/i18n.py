"""UI strings in zh-CN (default) and en; the locale comes from ?lang=, then the `lang` cookie."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import Request

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


def request_locale(request: Request, default: str) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LOCALES:
            return candidate
    return default


def translate(locale: str, key: str, **params: object) -> str:
    text = catalog(locale).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text
