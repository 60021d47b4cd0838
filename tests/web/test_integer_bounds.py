"""Integers beyond 64 bits are a 422 everywhere, never a 500 (schemathesis found 39 such 5xx)."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.openapi.utils import get_openapi

from tests.web.login import login
from xiaoer.app import api_routes

BIG = 2**63
INT64_MAX = 2**63 - 1


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _unbounded(
    doc: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]
) -> list[str]:
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    schema = _resolve(doc, schema)
    found = []
    if schema.get("type") == "integer":
        # FastAPI writes bounds as floats: 2**63 - 1 appears as 2.0**63.
        if schema.get("maximum", schema.get("exclusiveMaximum", BIG + 1)) > BIG:
            found.append(where)
        if schema.get("minimum", schema.get("exclusiveMinimum", -BIG - 2)) < -BIG - 1:
            found.append(where + " (minimum)")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _unbounded(doc, sub, where, seen)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(doc, sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        found += _unbounded(doc, schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        found += _unbounded(doc, schema["additionalProperties"], f"{where}{{}}", seen)
    return found


def full_openapi(app: Any) -> dict[str, Any]:
    """The OpenAPI document of every HTTP route, the HTML pages and forms hidden from /api/docs
    included: they take ids from the same untrusted places."""
    routes = []
    for route in api_routes():
        route = copy.copy(route)
        route.include_in_schema = True
        routes.append(route)
    return get_openapi(title=app.title, version=app.version, routes=routes)


def test_every_input_integer_of_every_route_has_64_bit_bounds(app_client):
    doc = full_openapi(app_client.app)
    assert len(doc["paths"]) > len(app_client.app.openapi()["paths"])
    unbounded = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                unbounded += _unbounded(
                    doc, parameter["schema"], f"{method} {path} {parameter['name']}", set()
                )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                unbounded += _unbounded(doc, media["schema"], f"{method} {path} body", set())
    assert not unbounded, "\n".join(unbounded)


def test_big_integers_in_paths_queries_and_bodies_are_422(app_client, demo_shop):
    account = demo_shop.login("admin")
    csrf = login(app_client, account.username, account.password)
    headers = {"X-CSRF-Token": csrf}
    for big in (str(BIG), str(-BIG - 1), "9" * 40):
        for method, url, kwargs in [
            ("GET", f"/api/v1/scripts/{big}", {}),
            ("GET", f"/api/v1/conversations/{big}/messages", {}),
            ("POST", f"/api/v1/scripts/{big}/rollback", {"json": {"version": 1}}),
            ("GET", "/api/v1/tickets", {"params": {"customer_id": big}}),
            ("GET", "/api/v1/audit", {"params": {"before_id": big}}),
            (
                "POST",
                "/api/v1/assist/usage",
                {"json": {"conversation_id": int(big), "script_id": 1, "message_id": 1}},
            ),
            ("POST", "/api/v1/tickets", {"json": {"title": "x", "customer_id": int(big)}}),
        ]:
            response = app_client.request(method, url, headers=headers, **kwargs)
            assert response.status_code == 422, (method, url, response.text[:300])
            assert response.json()["error"] == "invalid_input"
    # The largest 64-bit id is valid input: it simply does not exist.
    response = app_client.get(f"/api/v1/scripts/{INT64_MAX}")
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"
