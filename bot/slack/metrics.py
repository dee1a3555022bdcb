"""Prometheus metrics for the Slack front end (served at GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("whycant_slack_events_total", "Slack requests handled, by kind", ["kind"])
DUPLICATES = Counter("whycant_slack_duplicate_events_total", "Events API retries dropped (already handled)")
REFUSALS = Counter("whycant_slack_refusals_total", "Commands and buttons refused by permissions", ["permission"])
API_ERRORS = Counter("whycant_slack_api_errors_total", "Slack Web API calls that failed", ["method", "error"])
REPLY_SECONDS = Histogram(
    "whycant_slack_reply_seconds", "From request to final reply", buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120)
)
RECONNECTS = Counter("whycant_socket_reconnects_total", "Socket Mode reconnects forced by the watchdog", ["reason"])
SOCKETS = Gauge("whycant_socket_connections", "Socket Mode connections currently open")
API_RETRIES = Counter(
    "whycant_slack_api_retries_total", "Slack Web API calls retried, by reason", ["reason"]
)  # ratelimited|server_error|connection_error
