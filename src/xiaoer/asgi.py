"""ASGI entry for process managers: `uvicorn xiaoer.asgi:app_factory --factory` (settings from
XIAOER_* environment variables)."""

from fastapi import FastAPI

from xiaoer.app import create_app


def app_factory() -> FastAPI:
    return create_app()
