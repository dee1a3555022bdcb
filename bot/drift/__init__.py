"""Drift: sysctl policy, known-bad values, outliers, changes and running-vs-persisted (DESIGN §7).

``run_drift(svc, selectors) -> dict`` is the ``drift --json`` document (DESIGN §5).
"""
from __future__ import annotations

from bot.drift.report import run_drift


__all__ = ["run_drift"]
