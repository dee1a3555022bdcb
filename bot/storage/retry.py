"""Store an incident without ever losing the reply (docs/architecture.md §Storage faults).

``record_with_retry`` tries the write once; if the database is down or locked, the caller gets a
``StoreOutcome`` at once (``error`` is a line a front end can show: "incident not stored: database
unavailable (retrying)") and the write is retried in the background with bounded exponential backoff.
Every failure is logged (``whycant.storage``); ``on_stored`` / ``on_failed`` let a front end update its
reply when the write finally lands or is given up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.findings import Diagnosis
from bot.storage.db import DatabaseBusy, DatabaseUnavailable, is_lock_error
from bot.storage.incidents import IncidentService
from bot.storage.models import utcnow
from bot.storage.results import IncidentRef
from probes.evidence import Evidence

log = logging.getLogger("whycant.storage")

_PENDING: set[asyncio.Task[IncidentRef | None]] = set()


@dataclass
class StoreOutcome:
    ref: IncidentRef | None
    error: str | None = None  # shown to the user when set
    pending: asyncio.Task[IncidentRef | None] | None = None  # the background retry, if any

    @property
    def stored(self) -> bool:
        return self.ref is not None

    @property
    def incident_id(self) -> int | None:
        """The ``incident`` key of the ask JSON (null while not stored)."""
        return self.ref.id if self.ref else None


def storage_failure_reason(e: BaseException) -> str | None:
    """Short reason for a retryable failure, None when retrying will not help."""
    if isinstance(e, DatabaseUnavailable):
        return "database unavailable"
    if isinstance(e, DatabaseBusy) or is_lock_error(e):
        return "database locked"
    if isinstance(e, (OperationalError, InterfaceError, OSError, asyncio.TimeoutError, ConnectionError)):
        return "database unavailable"
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return "database unavailable"
    return None


async def _call(cb: Callable[..., Any] | None, *args: Any) -> None:
    if cb is None:
        return
    try:
        r = cb(*args)
        if inspect.isawaitable(r):
            await r
    except Exception:  # noqa: BLE001 - a callback must not kill the retry loop
        log.exception("incident store callback failed")


async def record_with_retry(
    service: IncidentService,
    request_info: Any,
    evidence: Evidence,
    diagnosis: Diagnosis,
    who: str | None,
    channel: str | None = None,
    thread_ts: str | None = None,
    *,
    attempts: int = 6,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    on_stored: Callable[[IncidentRef], Any] | None = None,
    on_failed: Callable[[BaseException], Any] | None = None,
) -> StoreOutcome:
    """``service.record_diagnosis(...)``; on a database outage return at once and keep trying in the background.

    *attempts* counts the background retries (delays ``base_delay * 2**n``, jittered, capped at *max_delay*).
    The ask time is kept, so a late write still joins the right incident."""
    at = utcnow()
    return await write_with_retry(
        lambda: service.record_diagnosis(request_info, evidence, diagnosis, who, channel, thread_ts, at=at),
        attempts=attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        on_stored=on_stored,
        on_failed=on_failed,
    )


async def write_with_retry(
    write: Callable[[], Awaitable[IncidentRef]],
    *,
    attempts: int = 6,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    on_stored: Callable[[IncidentRef], Any] | None = None,
    on_failed: Callable[[BaseException], Any] | None = None,
) -> StoreOutcome:
    """Run *write* once; on a retryable database failure, retry it in the background (see record_with_retry)."""
    try:
        return StoreOutcome(await write())
    except Exception as e:  # noqa: BLE001
        reason = storage_failure_reason(e)
        if reason is None:
            log.exception("incident not stored (not retried)")
            return StoreOutcome(None, f"incident not stored: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        log.warning("incident not stored: %s (%s); retrying in the background", reason, e)

    async def retry() -> IncidentRef | None:
        delay = base_delay
        last: BaseException | None = None
        for n in range(1, attempts + 1):
            await asyncio.sleep(min(delay, max_delay) * (0.75 + random.random() / 2))
            delay *= 2
            try:
                ref = await write()
            except Exception as e:  # noqa: BLE001
                last = e
                if storage_failure_reason(e) is None:
                    log.exception("incident write failed on retry %d (not retried further)", n)
                    break
                log.warning("incident write retry %d/%d failed: %s", n, attempts, e)
                continue
            log.info("incident %d stored after %d retr%s", ref.id, n, "y" if n == 1 else "ies")
            await _call(on_stored, ref)
            return ref
        log.error("incident not stored: gave up after %d retries: %s", attempts, last)
        await _call(on_failed, last)
        return None

    task = asyncio.get_running_loop().create_task(retry(), name="whycant-incident-retry")
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    return StoreOutcome(None, f"incident not stored: {reason} (retrying)", task)


def pending_writes() -> set[asyncio.Task[IncidentRef | None]]:
    return set(_PENDING)


async def drain(timeout: float | None = None) -> None:
    """Wait (at shutdown) for background incident writes still retrying."""
    tasks = pending_writes()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)


__all__ = ["StoreOutcome", "record_with_retry", "write_with_retry", "pending_writes", "drain"]
