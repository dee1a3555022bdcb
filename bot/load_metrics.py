"""Prometheus metrics of the load limits (docs/load.md): rate-limited asks, shared runs, SYN refusals."""

from __future__ import annotations

from prometheus_client import Counter

RATE_LIMITED = Counter("whycant_asks_rate_limited_total", "Asks refused by a rate limit, by scope", ["scope"])
SHARED_RUNS = Counter("whycant_asks_joined_run_total", "Asks that joined a diagnosis already running")
ALREADY_RUNNING = Counter(
    "whycant_asks_already_running_total", "Repeated asks by the same person while their diagnosis was still running"
)
