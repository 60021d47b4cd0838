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

# Read at scrape time (xiaoer.ops.health.refresh_gauges).
UNITS_RUNNING = Gauge("xiaoer_units_running", "Socket units of work running")
WAITING_CONVERSATIONS = Gauge(
    "xiaoer_waiting_conversations", "Conversations waiting for an agent", ["shop"]
)
OLDEST_WAIT = Gauge(
    "xiaoer_oldest_waiting_conversation_seconds",
    "How long the oldest waiting chat has waited",
    ["shop"],
)
BACKUP_LAST_SUCCESS = Gauge(
    "xiaoer_backup_last_success_timestamp_seconds", "When the last successful backup was taken"
)
BACKUP_LAST_OK = Gauge("xiaoer_backup_last_run_ok", "1 if the most recent backup run succeeded")
BACKUP_BYTES = Gauge("xiaoer_backup_last_size_bytes", "Size of the most recent backup archive")

# Durable jobs, from the job table. The label is `name`: `job` is Prometheus's own target label.
JOB_LAG = Gauge(
    "xiaoer_job_lag_seconds", "How late the oldest due, unfinished job of a kind is", ["name"]
)
JOBS_DEAD = Gauge("xiaoer_jobs_dead", "Jobs that used up their attempts", ["name"])
