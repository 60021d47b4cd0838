"""FastAPI factory: routers, templates, static files, error mapping and the lifespan."""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from xiaoer import metrics
from xiaoer.auth.passwords import configure_password_hashing
from xiaoer.config import Settings, get_settings
from xiaoer.db import SETTINGS_KEY, make_engine, make_sessionmaker
from xiaoer.errors import DomainError
from xiaoer.events import make_bus
from xiaoer.ratelimit import make_rate_limiter
from xiaoer.web import openapi
from xiaoer.web.deps import OpsAccess
from xiaoer.web.i18n import error_locale, error_text
from xiaoer.web.limits import RequestGuard
from xiaoer.web.security import SecurityHeadersMiddleware
from xiaoer.web.templating import render

log = structlog.get_logger(__name__)

# Each module exposes `router`; order matters only for overlapping paths.
ROUTER_MODULES = (
    "xiaoer.web.ops",
    "xiaoer.auth.views",
    "xiaoer.auth.account_views",
    "xiaoer.auth.session_views",
    "xiaoer.auth.api",
    "xiaoer.audit.views",
    "xiaoer.knowledge.api",
    "xiaoer.knowledge.import_views",  # before views: /admin/scripts/{script_id} would match
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
    "xiaoer.web.jobs_admin",
    "xiaoer.shops.api",
)

DOCS_PATH = "/api/docs"
STATIC_DIR = Path(__file__).parent / "web" / "static"


HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_input",
}


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    key: str | None = None,
    params: dict[str, object] | None = None,
) -> Response:
    """The error in the reader's language; the code stays the same in every language."""
    locale = error_locale(request, request.app.state.settings.default_locale)
    message = error_text(
        locale, status=status, code=code, message=message, key=key or code, params=params
    )
    if _wants_html(request):
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return render(
            request, "web/error.html", {"status_code": status, "message": message}, status
        )
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _walk_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            # A router included into another without a prefix (conversations: JSON + socket).
            assert not route.include_context.prefix, "prefixed sub-routers are not walked"
            yield from _walk_routes(inner.routes)


def api_routes() -> list[APIRoute]:
    """Every HTTP route of the app, pages included, with its full path."""
    return [
        route
        for name in ROUTER_MODULES
        for route in _walk_routes(importlib.import_module(name).router.routes)
    ]


def _allowed_methods(path: str) -> list[str]:
    methods: set[str] = set()
    for route in api_routes():
        if route.path_regex.match(path):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _validation_fields(exc: RequestValidationError) -> str:
    names = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        if where and where not in names:
            names.append(where)
    return ", ".join(names)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid input"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return _error_response(
            request, exc.status_code, exc.code, exc.message, key=exc.key, params=exc.params
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = _validation_fields(exc)
        return _error_response(
            request,
            422,
            "invalid_input",
            _validation_message(exc),
            key="invalid_fields" if fields else "invalid_input",
            params={"fields": fields},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        response = _error_response(
            request,
            exc.status_code,
            code,
            str(exc.detail),
            key=getattr(exc, "key", None),
            params=getattr(exc, "params", None),
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            # Starlette names only the first route of the path; a path's methods can be spread
            # over several routes.
            response.headers["Allow"] = ", ".join(_allowed_methods(request.url.path))
        return response

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        # A safety net behind xiaoer.bounds: a number the database cannot hold is bad input.
        log.warning("integer_overflow", path=request.url.path, error=str(exc))
        return _error_response(
            request, 422, "invalid_input", "number out of range", key="number_out_of_range"
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return _error_response(request, 500, "internal_error", "internal error")


def _install_docs(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=[OpsAccess])
    async def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(DOCS_PATH, include_in_schema=False, dependencies=[OpsAccess])
    async def api_docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Xiaoer API")


def create_app(settings: Settings | None = None, **state: Any) -> FastAPI:
    """Build the app. Extra keyword arguments land on `app.state` (tests inject engines)."""
    settings = settings or get_settings()
    configure_password_hashing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        capacity = settings.capacity
        app.state.engine = state.get("engine") or make_engine(
            settings.effective_database_url,
            pool_size=capacity.db_pool_size,
            max_overflow=capacity.db_max_overflow,
            pool_timeout=capacity.db_pool_timeout_seconds,
        )
        app.state.sessions = make_sessionmaker(app.state.engine)
        # Jobs get only a session; the settings of the process that runs them ride along.
        app.state.sessions.configure(info={SETTINGS_KEY: settings})
        app.state.bus = make_bus(settings.redis_url)
        await app.state.bus.start()
        app.state.ratelimiter = make_rate_limiter(settings.redis_url)
        from xiaoer.bot.engine import BotRegistry

        app.state.bot = BotRegistry(app.state.sessions)
        app.state.worker = None
        if settings.jobs_in_process:
            from xiaoer.jobs import Worker

            app.state.worker = Worker(
                app.state.sessions,
                poll_interval=settings.jobs_poll_seconds,
                concurrency=settings.jobs_concurrency,
            )
            await app.state.worker.start()
        try:
            yield
        finally:
            if app.state.worker is not None:
                await app.state.worker.stop()
            await app.state.bus.stop()
            await app.state.ratelimiter.aclose()
            if "engine" not in state:
                await app.state.engine.dispose()

    # The docs and schema are served by `_install_docs` behind `ops_access` (login or token in
    # production), not by FastAPI's open defaults.
    app = FastAPI(
        title="Xiaoer", version="0.1.0", lifespan=lifespan, docs_url=None, openapi_url=None
    )
    app.state.settings = settings
    _install_docs(app)
    _install_error_handlers(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        metrics.HTTP_LATENCY.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    app.add_middleware(
        RequestGuard, max_body_bytes=settings.max_body_bytes, respond=_error_response
    )

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    if settings.bench_echo:
        app.include_router(importlib.import_module("xiaoer.web.bench").router)

    # Outside even Starlette's ServerErrorMiddleware, so static files and the 500 page carry the
    # security headers too.
    build_stack = app.build_middleware_stack
    production = settings.env == "production"
    # FastAPI's own docs routes are off (`docs_url=None`); `_install_docs` serves DOCS_PATH.
    docs_paths = (DOCS_PATH, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.build_middleware_stack = lambda: SecurityHeadersMiddleware(  # type: ignore[method-assign]
        build_stack(), production=production, docs_paths=docs_paths
    )
    openapi.install(app, api_routes())

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    vendor = settings.vendor_dir or Path.cwd() / "node_modules"
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
    return app
