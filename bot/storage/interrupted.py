"""Diagnoses cut off before they finished: marked ``interrupted`` (crash recovery, issue 11 point 5).

* ``interrupt_dead_runs`` at start: runs left ``diagnosing`` by a process that is gone (this host: its PID
  is not running; another host: older than *stale_after*; ``everything``: all; ``own``: this runner's).
* ``interrupt_own_runs`` on the way out (stopped by a signal): this runner's runs, with the signal as reason.

Each cut-off run gets an ``interrupted`` audit entry; an incident that never got a diagnosis becomes
``interrupted``, one that already had one keeps its status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import ACTIVE_STATUSES, Incident
from bot.storage.results import iso
from bot.storage.rows import add_audit, evidence_count
from bot.storage.runner import runner_alive


async def _cut_off(s: AsyncSession, inc: Incident, now: datetime, detail: dict[str, Any]) -> None:
    """Stop *inc*'s run: audit it and, if it never got a diagnosis, mark it ``interrupted``."""
    previous = inc.status
    if await evidence_count(s, inc.id) == 0 and inc.status in ACTIVE_STATUSES:
        inc.status = "interrupted"
    add_audit(
        s,
        inc.id,
        "interrupted",
        "whycant",
        now,
        {"runner": inc.runner, **detail, "previous_status": previous, "status": inc.status},
    )
    inc.diagnosing, inc.runner, inc.diagnosing_since, inc.updated_at = False, None, None, now


def _is_dead(inc: Incident, runner: str, now: datetime, stale_after: timedelta) -> bool:
    if inc.runner == runner:
        return False
    alive = runner_alive(inc.runner) if inc.runner else False
    if alive is True:
        return False
    return not (alive is None and inc.diagnosing_since and now - inc.diagnosing_since < stale_after)


async def interrupt_dead_runs(
    db: Database,
    runner: str,
    clock: Callable[[], datetime],
    *,
    stale_after: timedelta = timedelta(minutes=15),
    everything: bool = False,
    own: bool = False,
) -> list[int]:
    """Mark the runs of dead processes interrupted (see the module doc); the incident ids."""

    async def tx(s: AsyncSession) -> list[int]:
        now = clock()
        q = select(Incident).where(Incident.diagnosing.is_(True)).order_by(Incident.id)
        if db.is_postgres:
            q = q.with_for_update(skip_locked=True)
        out = []
        for inc in (await s.execute(q)).scalars():
            if own and inc.runner != runner:  # shutting down: only our own runs, which will not finish
                continue
            if not own and not everything and not _is_dead(inc, runner, now, stale_after):
                continue
            await _cut_off(s, inc, now, {"since": iso(inc.diagnosing_since)})
            out.append(inc.id)
        return out

    return await db.write(tx)


async def interrupt_own_runs(db: Database, runner: str, clock: Callable[[], datetime], reason: str) -> list[int]:
    """Stop *runner*'s ``diagnosing`` marks; the incident ids. *reason*: e.g. "SIGTERM"."""

    async def tx(s: AsyncSession) -> list[int]:
        now = clock()
        q = select(Incident).where(Incident.diagnosing.is_(True), Incident.runner == runner)
        out = []
        for inc in (await s.execute(q.order_by(Incident.id))).scalars():
            await _cut_off(s, inc, now, {"reason": reason})
            out.append(inc.id)
        return out

    return await db.write(tx)
