"""Endpoints for `bench/` only, mounted when `Settings.bench_echo` is on (never in production)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xiaoer import metrics

router = APIRouter()


@router.websocket("/ws/echo")
async def echo_socket(websocket: WebSocket) -> None:
    """The framework's ceiling for `bench/chat_load.py`: a WebSocket that only echoes."""
    await websocket.accept()
    metrics.WS_CONNECTIONS.labels("echo").inc()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
    finally:
        metrics.WS_CONNECTIONS.labels("echo").dec()
