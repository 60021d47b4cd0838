"""Prometheus metrics served at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "xiaoer_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
WS_CONNECTIONS = Gauge("xiaoer_websocket_connections", "Open WebSocket connections", ["kind"])
MESSAGES = Counter("xiaoer_messages_total", "Chat messages", ["direction", "sender"])
BOT_ANSWERS = Counter("xiaoer_bot_answers_total", "Customer messages the bot answered")
HANDOFFS = Counter("xiaoer_handoffs_total", "Conversations handed to a person", ["reason"])

# Overload and the realtime bus (xiaoer.realtime.units, xiaoer.events).
UNITS_WAITING = Gauge("xiaoer_units_waiting", "Socket units of work waiting for admission")
BUSY_REFUSALS = Counter(
    "xiaoer_busy_refusals_total", "Socket frames answered busy, by cause", ["reason"]
)
BUS_PUBLISH_FAILURES = Counter(
    "xiaoer_bus_publish_failures_total", "Frames Redis could not take (delivered locally)"
)
BUS_CONNECTED = Gauge("xiaoer_bus_connected", "1 while the Redis listener is subscribed")
WS_FRAME_LATENCY = Histogram(
    "xiaoer_websocket_frame_seconds",
    "Time from an inbound WebSocket frame to its answer",
    ["channel", "type", "outcome"],
)
