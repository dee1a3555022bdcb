"""Drift: sysctl policy, known-bad values, outliers, changes and running-vs-persisted (docs/architecture.md §Drift).

``run_drift(svc, selectors) -> dict`` is the ``drift --json`` document (docs/architecture.md §Front ends and contracts).
"""

from __future__ import annotations

from bot.drift.report import run_drift

__all__ = ["run_drift"]
