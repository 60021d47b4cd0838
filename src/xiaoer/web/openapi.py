"""The OpenAPI document tells the truth about errors: every operation lists the 4xx answers it can
give, all in the one `{"error", "message"}` shape the app really sends (not FastAPI's default
validation body)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from xiaoer.web import deps

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "stable machine-readable code"},
        "message": {"type": "string", "description": "text in the client's language"},
    },
}
DESCRIPTIONS = {
    "401": "Not logged in",
    "403": "Forbidden: role, shop or CSRF token",
    "404": "Not found, or not yours (the same answer, so ids cannot be probed)",
    "409": "Conflict with the current state (changed meanwhile, already done)",
    "413": "Request body too large",
    "422": "Invalid input",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _error_statuses(route: APIRoute, method: str) -> list[str]:
    calls = list(_calls(route.dependant))
    statuses = ["422"]
    logged_in = deps.current_user in calls
    if logged_in:
        statuses.append("401")
    # A role check, or the CSRF check every unsafe call of a logged-in user passes through.
    if any(getattr(c, "__qualname__", "").startswith("require_role") for c in calls) or (
        method in UNSAFE and deps.optional_user in calls
    ):
        statuses.append("403")
    # Every user-supplied id is fetched through access_*, which answers 404.
    if route.dependant.path_params or method in UNSAFE:
        statuses.append("404")
    if method in UNSAFE:
        statuses += ["409", "413"]
    return statuses


def install(app: FastAPI, routes: list[APIRoute]) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for route in routes:
            operations = doc["paths"].get(route.path_format, {})
            for method in route.methods or ():
                operation = operations.get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in _error_statuses(route, method):
                    responses[status] = {"description": DESCRIPTIONS[status], "content": error}
        doc["components"]["schemas"].pop("HTTPValidationError", None)
        doc["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
