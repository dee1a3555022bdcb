"""Drift: sysctl policy, known-bad values, outliers, changes and running-vs-persisted (DESIGN §7).

``run_drift(svc, selectors) -> dict`` is the ``drift --json`` document (DESIGN §5).
"""
from __future__ import annotations

from typing import Any, Sequence


async def run_drift(svc: Any, selectors: Sequence[str] | None = None, **kw: Any) -> dict:
    from bot.drift.report import run_drift as _run

    return await _run(svc, selectors, **kw)


__all__ = ["run_drift"]
