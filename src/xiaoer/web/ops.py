"""Health, readiness and metrics endpoints (docs/deployment.md#health-checks).

`/healthz` is liveness: the event loop answers (restart the process if it does not).
`/readyz` is readiness: JSON with each check (`xiaoer.ops.health`), 503 when a critical one fails.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from xiaoer.ops.health import readiness, refresh_gauges
from xiaoer.web.deps import OpsAccess

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, strict: bool = False) -> Response:
    status, checks = await readiness(request.app.state)
    unready = status == "unavailable" or (strict and status == "degraded")
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if unready else 200)


@router.get("/metrics", dependencies=[OpsAccess])
async def metrics(request: Request) -> Response:
    await refresh_gauges(request.app.state)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
