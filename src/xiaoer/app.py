"""FastAPI factory: routers, templates, static files, error mapping and the lifespan."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from xiaoer import metrics
from xiaoer.auth.passwords import configure_password_hashing
from xiaoer.config import Settings, get_settings
from xiaoer.db import make_engine, make_sessionmaker
from xiaoer.errors import DomainError
from xiaoer.events import make_bus
from xiaoer.logs import start_request_context
from xiaoer.web.templating import render

log = structlog.get_logger(__name__)

# Each module exposes `router`; order matters only for overlapping paths.
ROUTER_MODULES = (
    "xiaoer.web.ops",
    "xiaoer.auth.views",
    "xiaoer.auth.api",
    "xiaoer.audit.views",
    "xiaoer.knowledge.api",
    "xiaoer.knowledge.views",
    "xiaoer.customers.api",
    "xiaoer.customers.views",
    "xiaoer.conversations.api",
    "xiaoer.conversations.views",
    "xiaoer.conversations.channels.webchat",
    "xiaoer.bot.api",
    "xiaoer.tickets.api",
    "xiaoer.tickets.views",
    "xiaoer.surveys.api",
    "xiaoer.insights.api",
    "xiaoer.insights.views",
    "xiaoer.assist.api",
    "xiaoer.assist.views",
)

STATIC_DIR = Path(__file__).parent / "web" / "static"


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, status: int, code: str, message: str) -> Response:
    if _wants_html(request):
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return render(
            request, "web/error.html", {"status_code": status, "message": message}, status
        )
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid input"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(request, exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(request, 422, "invalid_input", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return _error_response(request, 500, "internal_error", "internal error")


def create_app(settings: Settings | None = None, **state: Any) -> FastAPI:
    """Build the app. Extra keyword arguments land on `app.state` (tests inject engines)."""
    settings = settings or get_settings()
    configure_password_hashing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = state.get("engine") or make_engine(settings.effective_database_url)
        app.state.sessions = make_sessionmaker(app.state.engine)
        app.state.bus = make_bus(settings.redis_url)
        await app.state.bus.start()
        from xiaoer.bot.engine import BotRegistry

        app.state.bot = BotRegistry(app.state.sessions)
        # Serving starts at once; the model libraries (seconds of imports) load on a thread
        # meanwhile, so the first bot answer does not wait for them.
        asyncio.get_running_loop().run_in_executor(
            None, importlib.import_module, "xiaoer.nlp.matching"
        )
        try:
            yield
        finally:
            await app.state.bus.stop()
            if "engine" not in state:
                await app.state.engine.dispose()

    app = FastAPI(title="Xiaoer", version="0.1.0", lifespan=lifespan, docs_url="/api/docs")
    app.state.settings = settings
    _install_error_handlers(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        request_id = start_request_context(request.headers.get("x-request-id"))
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        route = request.scope.get("route")
        metrics.HTTP_LATENCY.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    if settings.bench_echo:
        app.include_router(importlib.import_module("xiaoer.web.bench").router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    vendor = settings.vendor_dir or Path.cwd() / "node_modules"
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
    return app
