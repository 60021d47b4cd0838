"""Prometheus metrics served at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "xiaoer_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
WS_CONNECTIONS = Gauge("xiaoer_websocket_connections", "Open WebSocket connections", ["kind"])
MESSAGES = Counter("xiaoer_messages_total", "Chat messages", ["direction", "sender"])
BOT_ANSWERS = Counter("xiaoer_bot_answers_total", "Customer messages the bot answered")
HANDOFFS = Counter("xiaoer_handoffs_total", "Conversations handed to a person", ["reason"])
