"""Graceful stop for ``serve``: finish in-flight work within a grace period, cancel the rest,
mark what was cut off ``interrupted``.

Kept apart from ``cli_serve`` so the shared cancel/mark helpers of ``ask``/``console`` can replace
these two functions without touching the server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Iterable

log = logging.getLogger("whycant.shutdown")


async def finish_or_cancel(tasks: Iterable[asyncio.Task], grace: float, *, cancel_wait: float = 2.0) -> int:
    """Wait up to *grace* seconds for *tasks*; cancel those still running. Returns how many were cancelled."""
    pending = {t for t in tasks if not t.done()}
    if pending and grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending, timeout=cancel_wait)
        log.warning("shutdown: %d unfinished task(s) cancelled after the %.0fs grace period", len(pending), grace)
    return len(pending)


async def mark_interrupted(store: Any, timeout: float = 3.0) -> list[int]:
    """Mark this process's unfinished diagnoses ``interrupted`` (bounded; a dead database is logged)."""
    if store is None:
        return []
    try:
        ids = await asyncio.wait_for(store.mark_own_runs_interrupted(), timeout)
    except Exception as e:  # noqa: BLE001 - shutdown goes on; the next start marks them instead
        log.warning(
            "shutdown: could not mark unfinished diagnoses interrupted (%s: %s); the next start will",
            type(e).__name__,
            e,
        )
        return []
    if ids:
        log.warning("shutdown: incident(s) %s interrupted", ", ".join(f"#{i}" for i in ids))
    return list(ids)
