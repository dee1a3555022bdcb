"""The storage facade the bot service uses (``bot/service.py``: ``from bot.storage import open_store``).

Thin, dict-returning wrappers over ``IncidentService`` so front ends can render incidents without
knowing the dataclasses; the write path never loses an answer (``record_or_retry``).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from bot.findings import Diagnosis
from bot.outcome import IncidentInfo
from bot.storage.claims import claim_event as _claim_event
from bot.storage.claims import claim_report_run as _claim_report_run
from bot.storage.db import Database
from bot.storage.incidents import IncidentRef, IncidentService, IncidentSummary
from bot.storage.interrupted import interrupt_own_runs
from bot.storage.joins import add_askers
from bot.storage.models import utcnow
from bot.storage.retry import StoreOutcome, drain, storage_failure_reason, write_with_retry
from bot.storage.spool import FlushResult, Spool
from probes.evidence import Evidence, Request

log = logging.getLogger("whycant.storage")


def _summary_dict(i: IncidentSummary) -> dict[str, Any]:
    d = i.to_dict()
    d["severity"] = i.top_severity
    d["askers"] = i.asked_count
    d["age_s"] = max(0.0, (utcnow() - i.created_at).total_seconds())
    return d


class Store:
    """*spool* and *wait*: a write that does not finish within *wait* seconds (database down or locked) is
    saved to the spool instead, and the answer goes on (``bot/storage/spool.py``)."""

    def __init__(self, service: IncidentService, *, spool: Spool | None = None, wait: float = 5.0):
        self.service = service
        self.db = service.db
        self.spool = spool
        self.wait = wait

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

    # -- cross-replica claims
    async def claim_event(self, event_id: str, ttl: timedelta | None = None) -> bool:
        """True for the first claim of *event_id* across replicas (kept *ttl*, default 2 hours)."""
        kw = {"ttl": ttl} if ttl is not None else {}
        return await _claim_event(self.db, event_id, replica=self.service.runner, **kw)

    async def claim_report_run(self, name: str, scheduled_for: Any, late: bool = False) -> bool:
        return await _claim_report_run(self.db, name, scheduled_for, self.service.runner, late=late)

    # -- the ask pipeline
    async def start_diagnosis(self, *, request: Request, who: str | None, channel: str | None = None,
                              thread_ts: str | None = None) -> IncidentRef:
        return await self.service.start_diagnosis(request, who, channel, thread_ts)

    async def record_or_retry(self, *, request: Request, evidence: Evidence, diagnosis: Diagnosis, who: str | None,
                              channel: str | None = None, thread_ts: str | None = None,
                              pending: IncidentRef | None = None, **retry: Any) -> IncidentInfo:
        """Finish the incident begun by ``start_diagnosis`` (*pending*) or record a new/joined one; on a database
        outage the answer goes on with ``storage_error`` set while the write is retried in the background."""
        at = utcnow()
        if isinstance(pending, IncidentRef):
            def write():  # noqa: ANN202
                return self.service.finish_diagnosis(pending, evidence, diagnosis, who)
        else:
            def write():  # noqa: ANN202
                return self.service.record_diagnosis(request, evidence, diagnosis, who, channel, thread_ts, at=at)
        if self.spool is not None:
            try:
                r = await asyncio.wait_for(write(), self.wait)
            except Exception as e:  # noqa: BLE001 - any write failure: the record goes to the spool, not lost
                return self.spool.keep(database_trouble(e, self.wait),
                                       pending_id=pending.id if isinstance(pending, IncidentRef) else None,
                                       request=request, evidence=evidence, diagnosis=diagnosis, who=who,
                                       channel=channel, thread_ts=thread_ts, at=at)
            return IncidentInfo(id=r.id, status=r.status, joined=r.joined, askers=r.askers,
                                askers_text=r.recent_askers_text if r.joined or r.askers > 1 else None)
        out: StoreOutcome = await write_with_retry(write, **retry)
        if out.ref is None:
            return IncidentInfo(id=pending.id if isinstance(pending, IncidentRef) else None, storage_error=out.error)
        r = out.ref
        return IncidentInfo(id=r.id, status=r.status, joined=r.joined, askers=r.askers,
                            askers_text=r.recent_askers_text if r.joined or r.askers > 1 else None)

    async def interrupt_runs(self, reason: str) -> list[int]:
        """Mark this process's unfinished diagnoses ``interrupted`` (stopped by a signal)."""
        return await interrupt_own_runs(self.service, reason)

    async def join_run(self, *, incident_id: int, asks: list[tuple[str | None, str | None, str | None]]
                       ) -> IncidentInfo:
        """Asks that shared a running diagnosis, ``(who, channel, thread_ts)`` each: added to its incident as
        askers in one write (bot/storage/joins.py)."""
        r = await add_askers(self.service, incident_id, asks)
        return IncidentInfo(id=r.id, status=r.status, joined=True, askers=r.askers, askers_text=r.recent_askers_text)

    # -- triage
    async def list_incidents(self, status: str | None = None, host: str | None = None,
                             limit: int = 50) -> list[dict[str, Any]]:
        return [_summary_dict(i) for i in await self.service.list(status=status, host=host, limit=limit)]

    async def open_incidents(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self.list_incidents(status="open,acked,interrupted", limit=limit)

    async def count_open(self) -> int:
        """Incidents open, acked or interrupted (the ``whycant_open_incidents`` gauge)."""
        return await self.service.count(("open", "acked", "interrupted"))

    async def history(self, host: str, limit: int = 50) -> list[dict[str, Any]]:
        return [_summary_dict(i) for i in await self.service.history(host, limit=limit)]

    async def get(self, incident_id: int) -> dict[str, Any]:
        """Everything about one incident, plus ``request`` (a ``Request`` as JSON) for re-runs."""
        d = await self.service.get(incident_id)
        out = d.to_dict()
        out["severity"] = d.incident.top_severity
        out["age_s"] = max(0.0, (utcnow() - d.incident.created_at).total_seconds())
        request = None
        if d.evidence:
            try:
                ev = await self.service.evidence(incident_id)
                request = ev.request.model_dump(mode="json") if ev.request else None
            except Exception:  # noqa: BLE001 - an old evidence version: fall back to the incident's own fields
                request = None
        i = d.incident
        out["request"] = request or Request(text=d.request_text or "", target=i.host, address=i.address or i.host,
                                            port=i.port, service=i.service, vantages=d.vantages).model_dump(mode="json")
        return out

    async def latest_evidence(self, incident_id: int) -> dict[str, Any] | None:
        d = await self.service.get(incident_id)
        if not d.evidence:
            return None
        return (await self.service.evidence(incident_id)).model_dump(mode="json")

    async def ack(self, incident_id: int, who: str | None = None) -> dict[str, Any]:
        return _summary_dict(await self.service.ack(incident_id, who))

    async def resolve(self, incident_id: int, who: str | None = None, note: str | None = None) -> dict[str, Any]:
        return _summary_dict(await self.service.resolve(incident_id, who, note))

    async def record_action(self, incident_id: int, action: str, who: str | None = None,
                            detail: dict[str, Any] | None = None) -> int:
        return await self.service.record_action(incident_id, action, who, detail)

    async def replay(self, incident_id: int, diagnose_fn: Any, who: str | None = None) -> dict[str, Any]:
        return (await self.service.replay(incident_id, diagnose_fn, who)).to_dict()


def database_trouble(e: BaseException, wait: float) -> str:
    """A short reason for a failed or timed-out database call ("database locked", "database unavailable: ...")."""
    if isinstance(e, TimeoutError):
        return f"database busy or unreachable for more than {wait:g} s"
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    reason = storage_failure_reason(e)
    if reason is None or reason == "database unavailable" and first.startswith("database unavailable"):
        return first
    return f"{reason} ({first})"


async def open_store(config: Any, *, mark_interrupted: bool = True, spool: Spool | None = None,
                     wait: float | None = None) -> Store:
    """Open the configured database, migrate it (unless ``auto_upgrade_db: false``) and, at bot start,
    mark diagnoses left running by a crashed process ``interrupted``. With *wait*, SQLite's busy timeout
    is kept within it (the caller bounds the whole call with ``asyncio.wait_for``)."""
    db = Database(config.database) if wait is None else Database(
        config.database, busy_timeout_ms=int(min(5.0, wait / 2) * 1000), connect_timeout=wait)
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
