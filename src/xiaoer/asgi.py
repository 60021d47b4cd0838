"""ASGI entry for process managers: `uvicorn xiaoer.asgi:app_factory --factory` (settings from
XIAOER_* environment variables)."""

from fastapi import FastAPI

from xiaoer.app import create_app
from xiaoer.config import get_settings
from xiaoer.logs import configure_logging


def app_factory() -> FastAPI:
    settings = get_settings()
    configure_logging(json_logs=settings.log_json)
    return create_app(settings)
