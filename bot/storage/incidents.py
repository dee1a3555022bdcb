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
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.findings import Diagnosis
from bot.storage.db import Database
from bot.storage.errors import InvalidTransition
from bot.storage.interrupted import interrupt_dead_runs, interrupt_own_runs
from bot.storage.models import ACTIVE_STATUSES, Asker, EvidenceRow, FindingRow, Incident, utcnow
from bot.storage.queries import IncidentQueries
from bot.storage.results import FindingChange, IncidentRef, IncidentSummary, ReplayResult, TargetInfo, target_info
from bot.storage.rows import add_audit, get_incident
from bot.storage.runner import runner_id
from probes.errors import BadInput
from probes.evidence import Evidence

DiagnoseFn = Callable[[Evidence], "Diagnosis | Awaitable[Diagnosis]"]
_ACTION_RE = re.compile(r"^[a-z][a-z_-]{0,31}$")


class IncidentService(IncidentQueries):
    """Writes (record, join, start/finish, triage, replay); reads come from ``IncidentQueries``."""

    def __init__(
        self,
        db: Database,
        *,
        join_window_minutes: int = 60,
        runner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
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
            key = int.from_bytes(
                hashlib.blake2b(f"incident:{t.host}:{t.port}".encode(), digest_size=8).digest(), "big", signed=True
            )
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    async def _open_or_join(
        self, s: AsyncSession, t: TargetInfo, who: str, channel: str | None, thread_ts: str | None, now: datetime
    ) -> tuple[Incident, bool]:
        await self._lock_target(s, t)
        inc: Incident | None = None
        if self.join_window > timedelta(0):
            q = (
                select(Incident)
                .where(
                    Incident.host == t.host,
                    Incident.port.is_(None) if t.port is None else Incident.port == t.port,
                    Incident.status.in_(ACTIVE_STATUSES),
                    Incident.last_asked_at >= now - self.join_window,
                )
                .order_by(Incident.id.desc())
                .limit(1)
            )
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
            add_audit(
                s,
                inc.id,
                "joined",
                who,
                now,
                {"channel": channel, "thread_ts": thread_ts, "asked_count": inc.asked_count},
            )
            return inc, True
        inc = Incident(
            host=t.host,
            address=t.address,
            port=t.port,
            service=t.service,
            vantages=sorted(set(t.vantages)),
            request_text=t.text,
            status="open",
            created_at=now,
            updated_at=now,
            last_asked_at=now,
            asked_count=1,
            opened_by=who,
            channel=channel,
            thread_ts=thread_ts,
            diagnosing=False,
        )
        s.add(inc)
        await s.flush()
        s.add(Asker(incident_id=inc.id, who=who, asked_at=now, channel=channel, thread_ts=thread_ts))
        add_audit(s, inc.id, "asked", who, now, {"channel": channel, "thread_ts": thread_ts, "text": t.text})
        return inc, False

    async def _attach(
        self, s: AsyncSession, inc: Incident, evidence: Evidence, diagnosis: Diagnosis, who: str | None, now: datetime
    ) -> EvidenceRow:
        ev = EvidenceRow(
            incident_id=inc.id,
            taken_at=now,
            version=evidence.version,
            source=evidence.source,
            host=evidence.target.host if evidence.target else inc.host,
            who=who,
            verdict=diagnosis.verdict,
            data=evidence.model_dump(mode="json"),
        )
        s.add(ev)
        await s.flush()
        for rank, f in enumerate(diagnosis.findings):
            s.add(
                FindingRow(
                    incident_id=inc.id,
                    evidence_id=ev.id,
                    rule_id=f.id,
                    severity=f.severity,
                    title=f.title,
                    explanation=f.explanation,
                    evidence_lines=list(f.evidence),
                    fix=f.fix.model_dump(mode="json"),
                    confidence=f.confidence,
                    rule_version=str(f.rule_version),
                    rank=rank,
                    created_at=now,
                )
            )
        inc.verdict = diagnosis.verdict
        inc.top_severity = diagnosis.top_severity
        inc.updated_at = now
        return ev

    async def incident_ref(
        self, s: AsyncSession, inc: Incident, joined: bool, now: datetime, run: str | None = None
    ) -> IncidentRef:
        since = now - self.join_window if self.join_window > timedelta(0) else inc.created_at
        row = (
            await s.execute(
                select(func.count(func.distinct(Asker.who)), func.min(Asker.asked_at)).where(
                    Asker.incident_id == inc.id, Asker.asked_at >= since
                )
            )
        ).one()
        people, first = int(row[0] or 1), row[1] or now
        minutes = max(1, math.ceil((now - first).total_seconds() / 60))
        target = inc.target_text
        text_ = (
            f"{people} {'person' if people == 1 else 'people'} asked about {target} in the last "
            f"{'minute' if minutes == 1 else f'{minutes} minutes'}"
        )
        return IncidentRef(
            id=inc.id,
            joined=joined,
            askers=people,
            recent_askers_text=text_,
            asked_count=inc.asked_count,
            status=inc.status,
            target=target,
            run=run,
        )

    # ---- recording ----
    async def record_diagnosis(
        self,
        request_info: Any,
        evidence: Evidence,
        diagnosis: Diagnosis,
        who: str | None,
        channel: str | None = None,
        thread_ts: str | None = None,
        *,
        at: datetime | None = None,
    ) -> IncidentRef:
        """Open an incident for a finished diagnosis, or join the open one for the same host:port."""
        t = target_info(request_info, evidence)
        who_ = who or "unknown"

        async def tx(s: AsyncSession) -> IncidentRef:
            now = at or self.clock()
            inc, joined = await self._open_or_join(s, t, who_, channel, thread_ts, now)
            await self._attach(s, inc, evidence, diagnosis, who_, now)
            return await self.incident_ref(s, inc, joined, now)

        return await self.db.write(tx)

    async def start_diagnosis(
        self, request_info: Any, who: str | None, channel: str | None = None, thread_ts: str | None = None
    ) -> IncidentRef:
        """Record the ask before probing: the incident is marked ``diagnosing`` by this process."""
        t = target_info(request_info)
        who_ = who or "unknown"

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc, joined = await self._open_or_join(s, t, who_, channel, thread_ts, now)
            inc.diagnosing, inc.runner, inc.diagnosing_since = True, self.runner, now
            return await self.incident_ref(s, inc, joined, now, run=self.runner)

        return await self.db.write(tx)

    async def finish_diagnosis(
        self, ref: IncidentRef | int, evidence: Evidence, diagnosis: Diagnosis, who: str | None = None
    ) -> IncidentRef:
        """Attach the evidence and findings of a diagnosis begun with ``start_diagnosis``."""
        incident_id = ref if isinstance(ref, int) else ref.id
        joined = False if isinstance(ref, int) else ref.joined

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc = await get_incident(s, self.db, incident_id, for_update=True)
            await self._attach(s, inc, evidence, diagnosis, who, now)
            if inc.runner == self.runner:
                inc.diagnosing, inc.runner, inc.diagnosing_since = False, None, None
            if inc.status == "interrupted":  # marked by a restart that could not tell we were alive
                inc.status = "open"
                add_audit(s, inc.id, "reopened", who, now, {"reason": "diagnosis finished"})
            return await self.incident_ref(s, inc, joined, now)

        return await self.db.write(tx)

    async def attach_evidence(
        self, incident_id: int, evidence: Evidence, diagnosis: Diagnosis, who: str | None, action: str = "rerun"
    ) -> IncidentRef:
        """A re-run (or verify-fix) from a button: new evidence and findings on an existing incident."""
        self._check_action(action)

        async def tx(s: AsyncSession) -> IncidentRef:
            now = self.clock()
            inc = await get_incident(s, self.db, incident_id, for_update=True)
            ev = await self._attach(s, inc, evidence, diagnosis, who, now)
            add_audit(
                s,
                inc.id,
                action,
                who,
                now,
                {"evidence_id": ev.id, "verdict": diagnosis.verdict, "findings": [f.id for f in diagnosis.findings]},
            )
            return await self.incident_ref(s, inc, False, now)

        return await self.db.write(tx)

    async def set_reply(
        self, incident_id: int, channel: str | None, thread_ts: str | None, reply_ts: str | None
    ) -> None:
        """Remember where the bot's reply lives (so buttons and updates can find it)."""

        async def tx(s: AsyncSession) -> None:
            inc = await get_incident(s, self.db, incident_id, for_update=True)
            inc.channel, inc.thread_ts, inc.reply_ts = channel or inc.channel, thread_ts or inc.thread_ts, reply_ts

        await self.db.write(tx)

    async def mark_interrupted_on_start(
        self, *, stale_after: timedelta = timedelta(minutes=15), everything: bool = False, own: bool = False
    ) -> list[int]:
        """Mark diagnoses left running by a dead process interrupted (``bot.storage.interrupted``)."""
        return await interrupt_dead_runs(
            self.db, self.runner, self.clock, stale_after=stale_after, everything=everything, own=own
        )

    async def interrupt_own_runs(self, reason: str) -> list[int]:
        """Mark this process's unfinished diagnoses interrupted (stopped by the signal *reason*)."""
        return await interrupt_own_runs(self.db, self.runner, self.clock, reason)

    # ---- triage ----
    @staticmethod
    def _check_action(action: str) -> None:
        if not _ACTION_RE.match(action or ""):
            raise BadInput(f"invalid audit action {action!r}")

    async def record_action(
        self, incident_id: int, action: str, who: str | None, detail: dict[str, Any] | None = None
    ) -> int:
        """Append an audit entry (e.g. ``verified``, ``rerun``, ``evidence-shown``); returns its id."""
        self._check_action(action)

        async def tx(s: AsyncSession) -> int:
            await get_incident(s, self.db, incident_id)
            e = add_audit(s, incident_id, action, who, self.clock(), detail)
            await s.flush()
            return e.id

        return await self.db.write(tx)

    async def ack(self, incident_id: int, who: str | None) -> IncidentSummary:
        async def tx(s: AsyncSession) -> IncidentSummary:
            inc = await get_incident(s, self.db, incident_id, for_update=True)
            if inc.status == "resolved":
                raise InvalidTransition(f"incident {incident_id} is resolved; a new ask opens a new incident")
            if inc.status != "acked":
                now = self.clock()
                previous, inc.status, inc.acked_by, inc.updated_at = inc.status, "acked", who, now
                add_audit(s, inc.id, "acked", who, now, {"previous_status": previous})
            return IncidentSummary.of(inc)

        return await self.db.write(tx)

    async def resolve(self, incident_id: int, who: str | None, note: str | None = None) -> IncidentSummary:
        async def tx(s: AsyncSession) -> IncidentSummary:
            inc = await get_incident(s, self.db, incident_id, for_update=True)
            if inc.status != "resolved":
                now = self.clock()
                previous = inc.status
                inc.status, inc.resolved_at, inc.resolved_by, inc.resolution_note = "resolved", now, who, note
                inc.updated_at = now
                add_audit(s, inc.id, "resolved", who, now, {"previous_status": previous, "note": note})
            return IncidentSummary.of(inc)

        return await self.db.write(tx)

    async def replay(self, incident_id: int, diagnose_fn: DiagnoseFn, who: str | None = None) -> ReplayResult:
        """Diagnose the latest stored evidence again (current playbooks) and say what would change.

        Nothing but an audit entry (``replayed``) is written: the stored findings stay as they were."""
        row, before, before_verdict = await self.latest_diagnosis(incident_id)
        result = diagnose_fn(Evidence.model_validate(row.data))
        after: Diagnosis = await result if inspect.isawaitable(result) else result
        old = {f.rule_id: f for f in before}
        new = {f.id: f for f in after.findings}
        res = ReplayResult(
            incident_id=incident_id,
            evidence_id=row.id,
            before_verdict=before_verdict,
            after_verdict=after.verdict,
            added=[FindingChange(f.id, f.severity, f.title) for f in after.findings if f.id not in old],
            removed=[FindingChange(f.rule_id, f.severity, f.title) for f in before if f.rule_id not in new],
            changed=[
                FindingChange(f.id, f.severity, f.title, old[f.id].severity)
                for f in after.findings
                if f.id in old and old[f.id].severity != f.severity
            ],
            unchanged=[f.id for f in after.findings if f.id in old and old[f.id].severity == f.severity],
            diagnosis=after,
        )
        await self.record_action(
            incident_id,
            "replayed",
            who,
            {
                "evidence_id": row.id,
                "added": [c.id for c in res.added],
                "removed": [c.id for c in res.removed],
                "changed": [c.id for c in res.changed],
                "verdict": after.verdict,
            },
        )
        return res
