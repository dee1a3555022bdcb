"""The incident service: record diagnoses, join repeated asks, triage, replay (docs/architecture.md §Storage).

One API for every front end (CLI, console, Slack) and for the ask pipeline::

    svc = IncidentService.from_config(config)          # or IncidentService(Database(url), join_window_minutes=60)
    await svc.db.ensure_schema(config.auto_upgrade_db)
    await svc.mark_interrupted_on_start()               # once, when the bot starts
    ref = await svc.record_diagnosis(request, evidence, diagnosis, who="U123", channel="C1", thread_ts="1.2")
    ref.id, ref.joined, ref.recent_askers_text          # "3 people asked about db01:5432 in the last 10 minutes"

Or, so that a diagnosis cut off by a crash is visible: ``ref = await svc.start_diagnosis(request, who)`` before
probing and ``await svc.finish_diagnosis(ref, evidence, diagnosis)`` after.

Joining: an ask about the same target host AND port while an incident is ``open`` or ``acked`` and was last
asked about within ``join_window_minutes`` (0 turns joining off) joins it: the asker is added,
``asked_count`` goes up, the new evidence and its findings are attached and the audit says ``joined``.
After ``resolve`` (or ``interrupted``) the next ask opens a new incident. Concurrent asks are serialised per
target: a PostgreSQL advisory transaction lock; on SQLite, in-process write serialisation plus ``BEGIN IMMEDIATE``.
"""
from __future__ import annotations

import hashlib
import inspect
import math
import os
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.findings import SEVERITY_RANK, Diagnosis, Finding
from bot.storage.db import Database
from bot.storage.models import (
    ACTIVE_STATUSES,
    STATUSES,
    Asker,
    AuditEntry,
    EvidenceRow,
    FindingRow,
    Incident,
    utcnow,
)
from probes.errors import BadInput
from probes.evidence import Evidence, Request
from probes.hostport import format_hostport

DiagnoseFn = Callable[[Evidence], "Diagnosis | Awaitable[Diagnosis]"]
_ACTION_RE = re.compile(r"^[a-z][a-z_-]{0,31}$")


class IncidentNotFound(BadInput):
    def __init__(self, incident_id: int):
        self.incident_id = incident_id
        super().__init__(f"no incident {incident_id}")


class InvalidTransition(BadInput):
    """E.g. acking a resolved incident."""


# -- runner identity (crash recovery) ------------------------------------------------------------
def _proc_start_time(pid: int) -> str | None:
    """Start time of *pid* in clock ticks since boot (guards against PID reuse); None if not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):  # zombie / dead: killed but not reaped yet
        return None
    return fields[19] if len(fields) > 19 else "0"


def runner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_proc_start_time(pid) or '0'}"


def _runner_alive(runner: str) -> bool | None:
    """True/False for a runner on this host; None when it ran on another host (cannot tell)."""
    try:
        host, pid_s, start = runner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    now_start = _proc_start_time(pid)
    if now_start is None:
        if os.path.isdir("/proc"):
            return False
        try:  # no /proc: signal 0 probes existence
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    return start in ("0", now_start)


# -- values handed back to front ends ------------------------------------------------------------
@dataclass
class TargetInfo:
    host: str
    address: str | None = None
    port: int | None = None
    service: str | None = None
    vantages: list[str] = field(default_factory=list)
    text: str | None = None

    @property
    def display(self) -> str:
        return format_hostport(self.host, self.port)


def target_info(request_info: Any, evidence: Evidence | None = None) -> TargetInfo:
    """Accept a ``probes.evidence.Request``, a dict (``host``/``target``, ``address``, ``port``...) or a TargetInfo."""
    if isinstance(request_info, TargetInfo):
        return request_info
    if request_info is None and evidence is not None and evidence.request is not None:
        request_info = evidence.request
    if isinstance(request_info, Request):
        return TargetInfo(host=request_info.target, address=request_info.address, port=request_info.port,
                          service=request_info.service, vantages=list(request_info.vantages),
                          text=request_info.text or None)
    if isinstance(request_info, dict):
        host = request_info.get("host") or request_info.get("target")
        if isinstance(host, dict):  # the ask JSON's {"target": {"host", "address", "port"}}
            request_info = {**request_info, **host}
            host = host.get("host")
        if not host:
            raise BadInput("incident target has no host")
        port = request_info.get("port")
        return TargetInfo(host=str(host), address=request_info.get("address"),
                          port=int(port) if port is not None else None, service=request_info.get("service"),
                          vantages=list(request_info.get("vantages") or []), text=request_info.get("text"))
    raise BadInput(f"cannot tell the incident target from {type(request_info).__name__}")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


@dataclass
class IncidentRef:
    """What a front end needs after recording an ask."""

    id: int
    joined: bool
    askers: int  # distinct people who asked within the join window, this ask included
    recent_askers_text: str  # "3 people asked about db01:5432 in the last 10 minutes"
    asked_count: int = 1
    status: str = "open"
    target: str = ""
    run: str | None = None  # runner token when opened by start_diagnosis

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IncidentSummary:
    id: int
    host: str
    address: str | None
    port: int | None
    service: str | None
    status: str
    verdict: str | None
    top_severity: str | None
    asked_count: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    channel: str | None
    thread_ts: str | None
    diagnosing: bool
    finding_ids: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)

    @classmethod
    def of(cls, i: Incident, finding_ids: list[str] | None = None) -> IncidentSummary:
        return cls(id=i.id, host=i.host, address=i.address, port=i.port, service=i.service, status=i.status,
                   verdict=i.verdict, top_severity=i.top_severity, asked_count=i.asked_count,
                   created_at=i.created_at, updated_at=i.updated_at, resolved_at=i.resolved_at,
                   channel=i.channel, thread_ts=i.thread_ts, diagnosing=i.diagnosing,
                   finding_ids=finding_ids or [])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "updated_at", "resolved_at"):
            d[k] = _iso(d[k])
        d["target"] = self.target
        return d


@dataclass
class IncidentDetail:
    incident: IncidentSummary
    vantages: list[str]
    request_text: str | None
    opened_by: str | None
    acked_by: str | None
    resolved_by: str | None
    resolution_note: str | None
    reply_ts: str | None
    askers: list[dict[str, Any]]
    findings: list[dict[str, Any]]  # of the latest diagnosis, ranked; contract shape + rule_version
    evidence: list[dict[str, Any]]  # one summary per stored evidence document, oldest first
    latest_evidence: dict[str, Any] | None
    audit: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "incident"}
        return {**self.incident.to_dict(), **d}


@dataclass
class FindingChange:
    id: str
    severity: str
    title: str
    before_severity: str | None = None


@dataclass
class ReplayResult:
    incident_id: int
    evidence_id: int
    before_verdict: str | None
    after_verdict: str
    added: list[FindingChange]
    removed: list[FindingChange]
    changed: list[FindingChange]  # same id, different severity
    unchanged: list[str]
    diagnosis: Diagnosis

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed) or self.before_verdict != self.after_verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident_id, "evidence_id": self.evidence_id,
            "before_verdict": self.before_verdict, "after_verdict": self.after_verdict,
            "added": [asdict(c) for c in self.added], "removed": [asdict(c) for c in self.removed],
            "changed": [asdict(c) for c in self.changed], "unchanged": list(self.unchanged),
            "differs": self.differs,
            "findings": [f.contract_dict() for f in self.diagnosis.findings],
        }


def evidence_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A short, human-sized view of one stored Evidence document."""
    out: dict[str, Any] = {"version": data.get("version"), "source": data.get("source")}
    try:
        ev = Evidence.model_validate(data)
    except Exception:  # noqa: BLE001 - a newer/older evidence version: show what we can
        out["keys"] = sorted(data)
        return out
    out["target"] = ev.target.host if ev.target else (ev.request.target if ev.request else None)
    out["connect"] = [c.summary() for c in ev.connect]
    delta = ev.target.counters_delta if ev.target else {}
    out["counters_delta"] = {k: v for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v}
    out["listeners"] = len(ev.target.listeners or []) if ev.target else 0
    out["probe_errors"] = ev.probe_errors()
    out["duration_s"] = ev.duration_s
    return out


# -- the service ---------------------------------------------------------------------------------
class IncidentService:
    def __init__(self, db: Database, *, join_window_minutes: int = 60, runner: str | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.join_window = timedelta(minutes=join_window_minutes)
        self.runner = runner or runner_id()
        self.clock = clock

    @classmethod
    def from_config(cls, config: Any, **kw: Any) -> IncidentService:
        return cls(Database(config.database), join_window_minutes=config.join_window_minutes, **kw)

    async def close(self) -> None:
        await self.db.dispose()

    # ---- helpers ----
    async def _lock_target(self, s: AsyncSession, t: TargetInfo) -> None:
        if self.db.is_postgres:
            key = int.from_bytes(hashlib.blake2b(f"incident:{t.host}:{t.port}".encode(), digest_size=8).digest(),
                                 "big", signed=True)
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    async def _get_row(self, s: AsyncSession, incident_id: int, for_update: bool = False) -> Incident:
        q = select(Incident).where(Incident.id == incident_id)
        if for_update and self.db.is_postgres:
            q = q.with_for_update()
        row = (await s.execute(q)).scalar_one_or_none()
        if row is None:
            raise IncidentNotFound(incident_id)
        return row

    def _audit(self, s: AsyncSession, incident_id: int, action: str, who: str | None, at: datetime,
               detail: dict[str, Any] | None = None) -> None:
        s.add(AuditEntry(incident_id=incident_id, action=action, who=who, at=at, detail=detail or {}))

    async def _open_or_join(self, s: AsyncSession, t: TargetInfo, who: str, channel: str | None,
                            thread_ts: str | None, now: datetime) -> tuple[Incident, bool]:
        await self._lock_target(s, t)
        inc: Incident | None = None
        if self.join_window > timedelta(0):
            q = (select(Incident)
                 .where(Incident.host == t.host,
                        Incident.port.is_(None) if t.port is None else Incident.port == t.port,
                        Incident.status.in_(ACTIVE_STATUSES),
                        Incident.last_asked_at >= now - self.join_window)
                 .order_by(Incident.id.desc()).limit(1))
            if self.db.is_postgres:
                q = q.with_for_update()
            inc = (await s.execute(q)).scalar_one_or_none()
        if inc is not None:
            inc.asked_count += 1
            inc.last_asked_at = max(inc.last_asked_at, now)
            inc.updated_at = now
            inc.vantages = sorted(set(inc.vantages or []) | set(t.vantages))
            if channel and not inc.channel:
                inc.channel, inc.thread_ts = channel, thread_ts
            s.add(Asker(incident_id=inc.id, who=who, asked_at=now, channel=channel, thread_ts=thread_ts))
            self._audit(s, inc.id, "joined", who, now, {"channel": channel, "thread_ts": thread_ts,
                                                        "asked_count": inc.asked_count})
            return inc, True
        inc = Incident(host=t.host, address=t.address, port=t.port, service=t.service, vantages=sorted(set(t.vantages)),
                       request_text=t.text, status="open", created_at=now, updated_at=now, last_asked_at=now,
                       asked_count=1, opened_by=who, channel=channel, thread_ts=thread_ts, diagnosing=False)
        s.add(inc)
        await s.flush()
        s.add(Asker(incident_id=inc.id, who=who, asked_at=now, channel=channel, thread_ts=thread_ts))
        self._audit(s, inc.id, "asked", who, now, {"channel": channel, "thread_ts": thread_ts, "text": t.text})
        return inc, False

    async def _attach(self, s: AsyncSession, inc: Incident, evidence: Evidence, diagnosis: Diagnosis,
                      who: str | None, now: datetime) -> EvidenceRow:
        ev = EvidenceRow(incident_id=inc.id, taken_at=now, version=evidence.version, source=evidence.source,
                         host=evidence.target.host if evidence.target else inc.host, who=who,
                         verdict=diagnosis.verdict, data=evidence.model_dump(mode="json"))
        s.add(ev)
        await s.flush()
        for rank, f in enumerate(diagnosis.findings):
            s.add(FindingRow(incident_id=inc.id, evidence_id=ev.id, rule_id=f.id, severity=f.severity,
                             title=f.title, explanation=f.explanation, evidence_lines=list(f.evidence),
                             fix=f.fix.model_dump(mode="json"), confidence=f.confidence,
                             rule_version=str(f.rule_version), rank=rank, created_at=now))
        inc.verdict = diagnosis.verdict
        inc.top_severity = diagnosis.top_severity
        inc.updated_at = now
        return ev

    async def _ref(self, s: AsyncSession, inc: Incident, joined: bool, now: datetime,
                   run: str | None = None) -> IncidentRef:
        since = now - self.join_window if self.join_window > timedelta(0) else inc.created_at
        row = (await s.execute(
            select(func.count(func.distinct(Asker.who)), func.min(Asker.asked_at))
            .where(Asker.incident_id == inc.id, Asker.asked_at >= since))).one()
        people, first = int(row[0] or 1), row[1] or now
        minutes = max(1, math.ceil((now - first).total_seconds() / 60))
        target = inc.target_text
        text_ = (f"{people} {'person' if people == 1 else 'people'} asked about {target} in the last "
                 f"{'minute' if minutes == 1 else f'{minutes} minutes'}")
        return IncidentRef(id=inc.id, joined=joined, askers=people, recent_askers_text=text_,
                           asked_count=inc.asked_count, status=inc.status, target=target, run=run)

    # ---- recording ----
    async def record_diagnosis(self, request_info: Any, evidence: Evidence, diagnosis: Diagnosis, who: str | None,
                               channel: str | None = None, thread_ts: str | None = None, *,
                               at: datetime | None = None) -> IncidentRef:
        """Open an incident for a finished diagnosis, or join the open one for the same host:port."""
        t = target_info(request_info, evidence)
        who_ = who or "unknown"

        async def tx(s: AsyncSession) -> IncidentRef:
            now = at or self.clock()
            inc, joined = await self._open_or_join(s, t, who_, channel, thread_ts, now)
            await self._attach(s, inc, evidence, diagnosis, who_, now)
            return await self._ref(s, inc, joined, now)

        return await self.db.write(tx)

    async def start_diagnosis(self, request_info: Any, who: str | None, channel: str | None = None,
                              thread_ts: str | None = None) -> IncidentRef:
        """Record the ask before probing: the incident is marked ``diagnosing`` by this process."""
        t = target_info(request_info)
        who_ = who or "unknown"

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc, joined = await self._open_or_join(s, t, who_, channel, thread_ts, now)
            inc.diagnosing, inc.runner, inc.diagnosing_since = True, self.runner, now
            return await self._ref(s, inc, joined, now, run=self.runner)

        return await self.db.write(tx)

    async def finish_diagnosis(self, ref: IncidentRef | int, evidence: Evidence, diagnosis: Diagnosis,
                               who: str | None = None) -> IncidentRef:
        """Attach the evidence and findings of a diagnosis begun with ``start_diagnosis``."""
        incident_id = ref if isinstance(ref, int) else ref.id
        joined = False if isinstance(ref, int) else ref.joined

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc = await self._get_row(s, incident_id, for_update=True)
            await self._attach(s, inc, evidence, diagnosis, who, now)
            if inc.runner == self.runner:
                inc.diagnosing, inc.runner, inc.diagnosing_since = False, None, None
            if inc.status == "interrupted":  # marked by a restart that could not tell we were alive
                inc.status = "open"
                self._audit(s, inc.id, "reopened", who, now, {"reason": "diagnosis finished"})
            return await self._ref(s, inc, joined, now)

        return await self.db.write(tx)

    async def attach_evidence(self, incident_id: int, evidence: Evidence, diagnosis: Diagnosis, who: str | None,
                              action: str = "rerun") -> IncidentRef:
        """A re-run (or verify-fix) from a button: new evidence and findings on an existing incident."""
        self._check_action(action)

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc = await self._get_row(s, incident_id, for_update=True)
            ev = await self._attach(s, inc, evidence, diagnosis, who, now)
            self._audit(s, inc.id, action, who, now, {"evidence_id": ev.id, "verdict": diagnosis.verdict,
                                                      "findings": [f.id for f in diagnosis.findings]})
            return await self._ref(s, inc, False, now)

        return await self.db.write(tx)

    async def set_reply(self, incident_id: int, channel: str | None, thread_ts: str | None,
                        reply_ts: str | None) -> None:
        """Remember where the bot's reply lives (so buttons and updates can find it)."""
        async def tx(s: AsyncSession) -> None:
            inc = await self._get_row(s, incident_id, for_update=True)
            inc.channel, inc.thread_ts, inc.reply_ts = channel or inc.channel, thread_ts or inc.thread_ts, reply_ts

        await self.db.write(tx)

    async def mark_interrupted_on_start(self, *, stale_after: timedelta = timedelta(minutes=15),
                                        everything: bool = False, own: bool = False) -> list[int]:
        """Mark diagnoses left running by a dead process (this host: PID gone; other hosts: older than
        *stale_after*; ``everything``: all; ``own``: this process's, at shutdown). An incident that never
        got a diagnosis becomes ``interrupted``;
        one that already had one keeps its status. Returns the ids of incidents whose run was cut off."""

        async def tx(s: AsyncSession) -> list[int]:
            now = self.clock()
            q = select(Incident).where(Incident.diagnosing.is_(True)).order_by(Incident.id)
            if self.db.is_postgres:
                q = q.with_for_update(skip_locked=True)
            out = []
            for inc in (await s.execute(q)).scalars():
                if own:  # shutting down: our own runs that will not finish
                    if inc.runner != self.runner:
                        continue
                elif not everything:
                    if inc.runner == self.runner:
                        continue
                    alive = _runner_alive(inc.runner) if inc.runner else False
                    if alive is True:
                        continue
                    if alive is None and inc.diagnosing_since and now - inc.diagnosing_since < stale_after:
                        continue
                n_evidence = (await s.execute(select(func.count()).select_from(EvidenceRow)
                                              .where(EvidenceRow.incident_id == inc.id))).scalar_one()
                previous = inc.status
                if n_evidence == 0 and inc.status in ACTIVE_STATUSES:
                    inc.status = "interrupted"
                self._audit(s, inc.id, "interrupted", "whycant", now,
                            {"runner": inc.runner, "since": _iso(inc.diagnosing_since), "previous_status": previous,
                             "status": inc.status})
                inc.diagnosing, inc.runner, inc.diagnosing_since, inc.updated_at = False, None, None, now
                out.append(inc.id)
            return out

        return await self.db.write(tx)

    # ---- triage ----
    @staticmethod
    def _check_action(action: str) -> None:
        if not _ACTION_RE.match(action or ""):
            raise BadInput(f"invalid audit action {action!r}")

    async def record_action(self, incident_id: int, action: str, who: str | None,
                            detail: dict[str, Any] | None = None) -> int:
        """Append an audit entry (e.g. ``verified``, ``rerun``, ``evidence-shown``); returns its id."""
        self._check_action(action)

        async def tx(s: AsyncSession) -> int:
            await self._get_row(s, incident_id)
            e = AuditEntry(incident_id=incident_id, action=action, who=who, at=self.clock(), detail=detail or {})
            s.add(e)
            await s.flush()
            return e.id

        return await self.db.write(tx)

    async def ack(self, incident_id: int, who: str | None) -> IncidentSummary:
        async def tx(s: AsyncSession) -> IncidentSummary:
            inc = await self._get_row(s, incident_id, for_update=True)
            if inc.status == "resolved":
                raise InvalidTransition(f"incident {incident_id} is resolved; a new ask opens a new incident")
            if inc.status != "acked":
                now = self.clock()
                previous, inc.status, inc.acked_by, inc.updated_at = inc.status, "acked", who, now
                self._audit(s, inc.id, "acked", who, now, {"previous_status": previous})
            return IncidentSummary.of(inc)

        return await self.db.write(tx)

    async def resolve(self, incident_id: int, who: str | None, note: str | None = None) -> IncidentSummary:
        async def tx(s: AsyncSession) -> IncidentSummary:
            inc = await self._get_row(s, incident_id, for_update=True)
            if inc.status != "resolved":
                now = self.clock()
                previous = inc.status
                inc.status, inc.resolved_at, inc.resolved_by, inc.resolution_note = "resolved", now, who, note
                inc.updated_at = now
                self._audit(s, inc.id, "resolved", who, now, {"previous_status": previous, "note": note})
            return IncidentSummary.of(inc)

        return await self.db.write(tx)

    # ---- queries ----
    @staticmethod
    def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
        if status is None:
            return None
        values = [status] if isinstance(status, str) else list(status)
        values = [v.strip() for item in values for v in item.split(",") if v.strip()]
        for v in values:
            if v not in STATUSES:
                raise BadInput(f"unknown status {v!r} (one of: {', '.join(STATUSES)})")
        return values or None

    async def count(self, statuses: Sequence[str]) -> int:
        """How many incidents have one of *statuses*."""
        q = select(func.count()).select_from(Incident).where(Incident.status.in_(list(statuses)))

        async def tx(s: AsyncSession) -> int:
            return int((await s.execute(q)).scalar_one())

        return await self.db.read(tx)

    async def list(self, status: str | Sequence[str] | None = None, host: str | None = None,
                   limit: int = 50) -> list[IncidentSummary]:
        """Newest first; *status* one or several (``"open,acked"``), *host* the inventory name or address."""
        statuses = self._statuses(status)
        limit = max(1, min(int(limit), 1000))
        q: Select[tuple[Incident]] = select(Incident)
        if statuses:
            q = q.where(Incident.status.in_(statuses))
        if host:
            q = q.where((Incident.host == host) | (Incident.address == host) if "." in host or ":" in host
                        else Incident.host == host)
        q = q.order_by(Incident.id.desc()).limit(limit)

        async def tx(s: AsyncSession) -> list[IncidentSummary]:
            return [IncidentSummary.of(i) for i in (await s.execute(q)).scalars()]

        return await self.db.read(tx)

    list_incidents = list

    async def history(self, host: str, limit: int = 50) -> list[IncidentSummary]:
        """Every incident about *host*, newest first, with the rule ids its latest diagnosis found."""
        items = await self.list(host=host, limit=limit)
        if not items:
            return items
        ids = [i.id for i in items]

        async def tx(s: AsyncSession) -> dict[int, list[str]]:
            latest = (select(EvidenceRow.incident_id, func.max(EvidenceRow.id).label("eid"))
                      .where(EvidenceRow.incident_id.in_(ids)).group_by(EvidenceRow.incident_id).subquery())
            rows = await s.execute(select(FindingRow.incident_id, FindingRow.rule_id)
                                   .join(latest, and_(FindingRow.evidence_id == latest.c.eid))
                                   .order_by(FindingRow.incident_id, FindingRow.rank))
            out: dict[int, list[str]] = {}
            for iid, rule in rows:
                out.setdefault(iid, []).append(rule)
            return out

        found = await self.db.read(tx)
        for i in items:
            i.finding_ids = found.get(i.id, [])
        return items

    async def get(self, incident_id: int) -> IncidentDetail:
        async def tx(s: AsyncSession) -> IncidentDetail:
            inc = await self._get_row(s, incident_id)
            askers = (await s.execute(select(Asker).where(Asker.incident_id == inc.id).order_by(Asker.id))).scalars()
            evs = (await s.execute(select(EvidenceRow).where(EvidenceRow.incident_id == inc.id)
                                   .order_by(EvidenceRow.id))).scalars().all()
            audit = (await s.execute(select(AuditEntry).where(AuditEntry.incident_id == inc.id)
                                     .order_by(AuditEntry.id))).scalars()
            findings: list[FindingRow] = []
            if evs:
                findings = list((await s.execute(select(FindingRow).where(FindingRow.evidence_id == evs[-1].id)
                                                 .order_by(FindingRow.rank))).scalars())
            ev_summaries = [{"id": e.id, "taken_at": _iso(e.taken_at), "source": e.source, "who": e.who,
                             "verdict": e.verdict, "version": e.version} for e in evs]
            latest = None
            if evs:
                latest = {"id": evs[-1].id, "taken_at": _iso(evs[-1].taken_at), **evidence_summary(evs[-1].data)}
            finding_ids = [f.rule_id for f in findings]
            return IncidentDetail(
                incident=IncidentSummary.of(inc, finding_ids), vantages=list(inc.vantages or []),
                request_text=inc.request_text, opened_by=inc.opened_by, acked_by=inc.acked_by,
                resolved_by=inc.resolved_by, resolution_note=inc.resolution_note, reply_ts=inc.reply_ts,
                askers=[{"who": a.who, "asked_at": _iso(a.asked_at), "channel": a.channel} for a in askers],
                findings=[_finding_dict(f) for f in findings],
                evidence=ev_summaries, latest_evidence=latest,
                audit=[{"id": a.id, "action": a.action, "who": a.who, "at": _iso(a.at), "detail": a.detail}
                       for a in audit],
            )

        return await self.db.read(tx)

    async def evidence(self, incident_id: int, evidence_id: int | None = None) -> Evidence:
        """The stored Evidence (the latest unless *evidence_id*), ready to diagnose again."""
        async def tx(s: AsyncSession) -> Evidence:
            await self._get_row(s, incident_id)
            q = select(EvidenceRow).where(EvidenceRow.incident_id == incident_id)
            q = q.where(EvidenceRow.id == evidence_id) if evidence_id else q.order_by(EvidenceRow.id.desc()).limit(1)
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                raise BadInput(f"incident {incident_id} has no stored evidence"
                               + (f" with id {evidence_id}" if evidence_id else ""))
            return Evidence.model_validate(row.data)

        return await self.db.read(tx)

    async def replay(self, incident_id: int, diagnose_fn: DiagnoseFn, who: str | None = None) -> ReplayResult:
        """Diagnose the latest stored evidence again (current playbooks) and say what would change.

        Nothing but an audit entry (``replayed``) is written: the stored findings stay as they were."""
        async def load(s: AsyncSession) -> tuple[EvidenceRow, list[FindingRow], str | None]:
            inc = await self._get_row(s, incident_id)
            row = (await s.execute(select(EvidenceRow).where(EvidenceRow.incident_id == incident_id)
                                   .order_by(EvidenceRow.id.desc()).limit(1))).scalar_one_or_none()
            if row is None:
                raise BadInput(f"incident {incident_id} has no stored evidence to replay")
            fs = list((await s.execute(select(FindingRow).where(FindingRow.evidence_id == row.id)
                                       .order_by(FindingRow.rank))).scalars())
            return row, fs, row.verdict or inc.verdict

        row, before, before_verdict = await self.db.read(load)
        result = diagnose_fn(Evidence.model_validate(row.data))
        after: Diagnosis = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        old = {f.rule_id: f for f in before}
        new = {f.id: f for f in after.findings}
        res = ReplayResult(
            incident_id=incident_id, evidence_id=row.id, before_verdict=before_verdict, after_verdict=after.verdict,
            added=[FindingChange(f.id, f.severity, f.title) for f in after.findings if f.id not in old],
            removed=[FindingChange(f.rule_id, f.severity, f.title) for f in before if f.rule_id not in new],
            changed=[FindingChange(f.id, f.severity, f.title, old[f.id].severity) for f in after.findings
                     if f.id in old and old[f.id].severity != f.severity],
            unchanged=[f.id for f in after.findings if f.id in old and old[f.id].severity == f.severity],
            diagnosis=after,
        )
        await self.record_action(incident_id, "replayed", who, {
            "evidence_id": row.id, "added": [c.id for c in res.added], "removed": [c.id for c in res.removed],
            "changed": [c.id for c in res.changed], "verdict": after.verdict})
        return res


def _finding_dict(f: FindingRow) -> dict[str, Any]:
    fix = dict(f.fix or {})
    return {"id": f.rule_id, "severity": f.severity, "title": f.title, "explanation": f.explanation,
            "evidence": list(f.evidence_lines or []),
            "fix": {"runtime": fix.get("runtime"), "persistent": fix.get("persistent"),
                    "rollback": fix.get("rollback"), "app": fix.get("app")},
            "confidence": f.confidence, "rule_version": f.rule_version, "rank": f.rank}


def top_severity(findings: Iterable[Finding]) -> str | None:
    sev = [f.severity for f in findings]
    return min(sev, key=SEVERITY_RANK.__getitem__) if sev else None
