"""The one storage API front ends use (docs/architecture.md §Storage): ``open_store(config)`` → ``Store``.

The service (``bot/service.py``), Slack, the console and the CLI read and write incidents through ``Store``;
it hands back typed results (``bot.storage.results``) and holds the resilience: the ask pipeline's calls are
bounded by *wait* seconds and never raise (a database that fails or hangs becomes a ``StorageTrouble``, the
write goes to the spool or is retried in the background, and the answer goes on). Internals (spool, retry,
joins) use the lower layer, ``IncidentService``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.findings import Diagnosis
from bot.outcome import IncidentInfo
from bot.storage.claims import claim_event, claim_report_run
from bot.storage.db import Database
from bot.storage.incidents import DiagnoseFn, IncidentService
from bot.storage.joins import add_askers
from bot.storage.models import utcnow
from bot.storage.results import IncidentDetail, IncidentRef, IncidentSummary, ReplayResult
from bot.storage.retry import drain, storage_failure_reason, write_with_retry
from bot.storage.spool import FlushResult, Spool
from probes.evidence import Evidence, Request

log = logging.getLogger("whycant.storage")
T = TypeVar("T")
OPEN_STATUSES = ("open", "acked", "interrupted")


@dataclass(frozen=True)
class StorageTrouble:
    """Why a bounded storage call gave no result ("database locked (...)")."""

    reason: str


def database_trouble(e: BaseException, wait: float) -> str:
    """A short reason for a failed or timed-out database call ("database locked", "database unavailable: ...")."""
    if isinstance(e, TimeoutError):
        return f"database busy or unreachable for more than {wait:g} s"
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    reason = storage_failure_reason(e)
    if reason is None or reason == "database unavailable" and first.startswith("database unavailable"):
        return first
    return f"{reason} ({first})"


def incident_info(r: IncidentRef) -> IncidentInfo:
    """What an answer shows about the incident its ask was recorded in."""
    return IncidentInfo(
        id=r.id,
        status=r.status,
        joined=r.joined,
        askers=r.askers,
        askers_text=r.recent_askers_text if r.joined or r.askers > 1 else None,
    )


class Store:
    """*spool* and *wait*: a write that does not finish within *wait* seconds (database down or locked) is
    saved to the spool instead, and the answer goes on (``bot/storage/spool.py``)."""

    def __init__(self, service: IncidentService, *, spool: Spool | None = None, wait: float = 5.0):
        self.service = service
        self.spool = spool
        self.wait = wait

    @property
    def db(self) -> Database:
        return self.service.db

    async def flush_spool(self) -> FlushResult:
        """Write what the spool holds (bounded by ``wait`` per record)."""
        if self.spool is None:
            return FlushResult()
        try:
            return await asyncio.wait_for(self.spool.flush(self.service), self.wait * max(1, len(self.spool.pending())))
        except TimeoutError:
            return FlushResult(left=len(self.spool.pending()), error=f"database busy for more than {self.wait:g} s")

    async def close(self, drain_timeout: float = 5.0) -> None:
        await drain(drain_timeout)
        await self.service.close()

    async def _bounded(self, name: str, call: Awaitable[T]) -> T | StorageTrouble:
        """*call* within ``wait`` seconds; on any failure the reason instead (logged)."""
        try:
            return await asyncio.wait_for(call, self.wait)
        except Exception as e:  # noqa: BLE001 - storage trouble never loses the answer
            log.warning("storage %s failed: %s", name, e)
            return StorageTrouble(database_trouble(e, self.wait))

    # -- cross-replica claims
    async def claim_event(self, event_id: str, ttl: timedelta | None = None) -> bool:
        """True for the first claim of *event_id* across replicas (kept *ttl*, default 2 hours)."""
        if ttl is None:
            return await claim_event(self.db, event_id, replica=self.service.runner)
        return await claim_event(self.db, event_id, ttl=ttl, replica=self.service.runner)

    async def claim_report_run(self, name: str, scheduled_for: datetime, late: bool = False) -> bool:
        return await claim_report_run(self.db, name, scheduled_for, self.service.runner, late=late)

    # -- the ask pipeline: bounded by ``wait``, never raises
    async def start_diagnosis(
        self, *, request: Request, who: str | None, channel: str | None = None, thread_ts: str | None = None
    ) -> IncidentRef | StorageTrouble:
        """Record the ask before probing (so a crash mid-diagnosis leaves it ``interrupted``)."""
        return await self._bounded("start_diagnosis", self.service.start_diagnosis(request, who, channel, thread_ts))

    async def record_or_retry(
        self,
        *,
        request: Request,
        evidence: Evidence,
        diagnosis: Diagnosis,
        who: str | None,
        channel: str | None = None,
        thread_ts: str | None = None,
        pending: IncidentRef | StorageTrouble | None = None,
        at: datetime | None = None,
        **retry: Any,
    ) -> IncidentInfo:
        """Finish the incident begun by ``start_diagnosis`` (*pending*) or record a new/joined one. When
        *pending* is a ``StorageTrouble`` the write goes straight to the spool; on a database outage the answer
        goes on with ``storage_error`` set while the write is spooled or retried in the background.
        *at*: when the ask came (what a record spooled because ``start_diagnosis`` failed keeps)."""
        now = utcnow()
        if isinstance(pending, StorageTrouble) and self.spool is not None:  # the database failed already
            return self.spool.keep(
                pending.reason,
                pending_id=None,
                request=request,
                evidence=evidence,
                diagnosis=diagnosis,
                who=who,
                channel=channel,
                thread_ts=thread_ts,
                at=at or now,
            )
        started = pending if isinstance(pending, IncidentRef) else None
        write: Callable[[], Awaitable[IncidentRef]]
        if started is not None:

            def write() -> Awaitable[IncidentRef]:
                return self.service.finish_diagnosis(started, evidence, diagnosis, who)
        else:

            def write() -> Awaitable[IncidentRef]:
                return self.service.record_diagnosis(request, evidence, diagnosis, who, channel, thread_ts, at=now)

        if self.spool is not None:
            try:
                return incident_info(await asyncio.wait_for(write(), self.wait))
            except Exception as e:  # noqa: BLE001 - any write failure: the record goes to the spool, not lost
                return self.spool.keep(
                    database_trouble(e, self.wait),
                    pending_id=started.id if started else None,
                    request=request,
                    evidence=evidence,
                    diagnosis=diagnosis,
                    who=who,
                    channel=channel,
                    thread_ts=thread_ts,
                    at=now,
                )
        out = await write_with_retry(write, **retry)
        if out.ref is None:
            return IncidentInfo(id=started.id if started else None, storage_error=out.error)
        return incident_info(out.ref)

    async def join_run(
        self, leader: IncidentInfo, asks: Sequence[tuple[str | None, str | None, str | None]]
    ) -> IncidentInfo:
        """Asks that shared *leader*'s running diagnosis, ``(who, channel, thread_ts)`` each: added to its
        incident as askers in one write (bot/storage/joins.py)."""
        if leader.id is None:
            return leader.model_copy(update={"joined": True})
        r = await self._bounded("join_run", add_askers(self.service, leader.id, asks))
        if isinstance(r, StorageTrouble):
            return leader.model_copy(
                update={
                    "joined": True,
                    "storage_error": f"incident {leader.id}: your ask "
                    "was not added to it (database unavailable; see the log)",
                }
            )
        return IncidentInfo(id=r.id, status=r.status, joined=True, askers=r.askers, askers_text=r.recent_askers_text)

    async def interrupt_runs(self, reason: str) -> list[int]:
        """Mark this process's unfinished diagnoses ``interrupted`` (stopped by a signal); [] on trouble."""
        ids = await self._bounded("interrupt_runs", self.service.interrupt_own_runs(reason))
        return [] if isinstance(ids, StorageTrouble) else ids

    async def mark_own_runs_interrupted(self) -> list[int]:
        """At shutdown: this process's runs that will not finish, marked like a dead runner's (raises on trouble)."""
        return await self.service.mark_interrupted_on_start(own=True)

    # -- triage
    async def list_incidents(
        self, status: str | None = None, host: str | None = None, limit: int = 50
    ) -> list[IncidentSummary]:
        return await self.service.list(status=status, host=host, limit=limit)

    async def open_incidents(self, limit: int = 50) -> list[IncidentSummary]:
        """Open, acked and interrupted incidents, newest first."""
        return await self.service.list(status=OPEN_STATUSES, limit=limit)

    async def count_open(self) -> int:
        """Incidents open, acked or interrupted (the ``whycant_open_incidents`` gauge)."""
        return await self.service.count(OPEN_STATUSES)

    async def history(self, host: str, limit: int = 50) -> list[IncidentSummary]:
        return await self.service.history(host, limit=limit)

    async def get(self, incident_id: int) -> IncidentDetail:
        """Everything about one incident (``IncidentNotFound``, a ``BadInput``, for unknown ids)."""
        return await self.service.get(incident_id)

    async def request_of(self, detail: IncidentDetail) -> Request:
        """The request to re-run *detail*'s diagnosis: its stored evidence's, else the incident's own fields."""
        if detail.evidence:
            try:
                ev = await self.service.evidence(detail.incident.id)
                if ev.request is not None:
                    return ev.request
            except Exception:  # noqa: BLE001 - an old evidence version: fall back to the incident's own fields
                pass
        return detail.own_request()

    async def latest_evidence(self, incident_id: int) -> Evidence | None:
        """The latest stored evidence, None when the incident has none."""
        d = await self.service.get(incident_id)
        return await self.service.evidence(incident_id) if d.evidence else None

    async def ack(self, incident_id: int, who: str | None = None) -> IncidentSummary:
        return await self.service.ack(incident_id, who)

    async def resolve(self, incident_id: int, who: str | None = None, note: str | None = None) -> IncidentSummary:
        return await self.service.resolve(incident_id, who, note)

    async def record_action(
        self, incident_id: int, action: str, who: str | None = None, detail: dict[str, Any] | None = None
    ) -> int:
        return await self.service.record_action(incident_id, action, who, detail)

    async def replay(self, incident_id: int, diagnose_fn: DiagnoseFn, who: str | None = None) -> ReplayResult:
        return await self.service.replay(incident_id, diagnose_fn, who)


async def open_store(
    config: Any, *, mark_interrupted: bool = True, spool: Spool | None = None, wait: float | None = None
) -> Store:
    """Open the configured database, migrate it (unless ``auto_upgrade_db: false``) and, at bot start,
    mark diagnoses left running by a crashed process ``interrupted``. With *wait*, SQLite's busy timeout
    is kept within it (the caller bounds the whole call with ``asyncio.wait_for``)."""
    db = (
        Database(config.database)
        if wait is None
        else Database(config.database, busy_timeout_ms=int(min(5.0, wait / 2) * 1000), connect_timeout=wait)
    )
    service = IncidentService(db, join_window_minutes=config.join_window_minutes)
    try:
        await service.db.ensure_schema(config.auto_upgrade_db)
        if mark_interrupted:
            ids = await service.mark_interrupted_on_start()
            if ids:
                log.warning("marked %d diagnosis(es) cut off by a restart as interrupted: %s", len(ids), ids)
    except BaseException:
        await service.close()
        raise
    return Store(service, spool=spool, wait=wait if wait is not None else 5.0)
