"""Incident reads: list, count, history, one incident in full, its stored evidence (docs/architecture.md §Storage).

``IncidentQueries`` is the read half of ``bot.storage.incidents.IncidentService``; it needs only ``self.db``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import STATUSES, Asker, AuditEntry, EvidenceRow, FindingRow, Incident
from bot.storage.results import IncidentDetail, IncidentSummary, evidence_summary, finding_dict, iso
from bot.storage.rows import get_incident
from probes.errors import BadInput
from probes.evidence import Evidence


def parse_statuses(status: str | Sequence[str] | None) -> builtins.list[str] | None:
    """``"open,acked"`` or ``["open", "acked"]`` → the statuses; ``BadInput`` for an unknown one."""
    if status is None:
        return None
    values = [status] if isinstance(status, str) else builtins.list(status)
    values = [v.strip() for item in values for v in item.split(",") if v.strip()]
    for v in values:
        if v not in STATUSES:
            raise BadInput(f"unknown status {v!r} (one of: {', '.join(STATUSES)})")
    return values or None


class IncidentQueries:
    db: Database

    async def count(self, statuses: Sequence[str]) -> int:
        """How many incidents have one of *statuses*."""
        q = select(func.count()).select_from(Incident).where(Incident.status.in_(builtins.list(statuses)))

        async def tx(s: AsyncSession) -> int:
            return int((await s.execute(q)).scalar_one())

        return await self.db.read(tx)

    async def history(self, host: str, limit: int = 50) -> builtins.list[IncidentSummary]:
        """Every incident about *host*, newest first, with the rule ids its latest diagnosis found."""
        items = await self.list(host=host, limit=limit)
        if not items:
            return items
        ids = [i.id for i in items]

        async def tx(s: AsyncSession) -> dict[int, builtins.list[str]]:
            latest = (
                select(EvidenceRow.incident_id, func.max(EvidenceRow.id).label("eid"))
                .where(EvidenceRow.incident_id.in_(ids))
                .group_by(EvidenceRow.incident_id)
                .subquery()
            )
            rows = await s.execute(
                select(FindingRow.incident_id, FindingRow.rule_id)
                .join(latest, and_(FindingRow.evidence_id == latest.c.eid))
                .order_by(FindingRow.incident_id, FindingRow.rank)
            )
            out: dict[int, builtins.list[str]] = {}
            for iid, rule in rows:
                out.setdefault(iid, []).append(rule)
            return out

        found = await self.db.read(tx)
        for i in items:
            i.finding_ids = found.get(i.id, [])
        return items

    async def get(self, incident_id: int) -> IncidentDetail:
        """Everything about one incident: askers, latest findings, evidence summaries, audit."""

        async def tx(s: AsyncSession) -> IncidentDetail:
            inc = await get_incident(s, self.db, incident_id)
            askers = (await s.execute(select(Asker).where(Asker.incident_id == inc.id).order_by(Asker.id))).scalars()
            evs = (
                (await s.execute(select(EvidenceRow).where(EvidenceRow.incident_id == inc.id).order_by(EvidenceRow.id)))
                .scalars()
                .all()
            )
            audit = (
                await s.execute(select(AuditEntry).where(AuditEntry.incident_id == inc.id).order_by(AuditEntry.id))
            ).scalars()
            findings: builtins.list[FindingRow] = []
            if evs:
                findings = builtins.list(
                    (
                        await s.execute(
                            select(FindingRow).where(FindingRow.evidence_id == evs[-1].id).order_by(FindingRow.rank)
                        )
                    ).scalars()
                )
            ev_summaries = [
                {
                    "id": e.id,
                    "taken_at": iso(e.taken_at),
                    "source": e.source,
                    "who": e.who,
                    "verdict": e.verdict,
                    "version": e.version,
                }
                for e in evs
            ]
            latest = None
            if evs:
                latest = {"id": evs[-1].id, "taken_at": iso(evs[-1].taken_at), **evidence_summary(evs[-1].data)}
            finding_ids = [f.rule_id for f in findings]
            return IncidentDetail(
                incident=IncidentSummary.of(inc, finding_ids),
                vantages=builtins.list(inc.vantages or []),
                request_text=inc.request_text,
                opened_by=inc.opened_by,
                acked_by=inc.acked_by,
                resolved_by=inc.resolved_by,
                resolution_note=inc.resolution_note,
                reply_ts=inc.reply_ts,
                askers=[{"who": a.who, "asked_at": iso(a.asked_at), "channel": a.channel} for a in askers],
                findings=[finding_dict(f) for f in findings],
                evidence=ev_summaries,
                latest_evidence=latest,
                audit=[
                    {"id": a.id, "action": a.action, "who": a.who, "at": iso(a.at), "detail": a.detail} for a in audit
                ],
            )

        return await self.db.read(tx)

    async def evidence(self, incident_id: int, evidence_id: int | None = None) -> Evidence:
        """The stored Evidence (the latest unless *evidence_id*), ready to diagnose again."""

        async def tx(s: AsyncSession) -> Evidence:
            await get_incident(s, self.db, incident_id)
            q = select(EvidenceRow).where(EvidenceRow.incident_id == incident_id)
            q = q.where(EvidenceRow.id == evidence_id) if evidence_id else q.order_by(EvidenceRow.id.desc()).limit(1)
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                raise BadInput(
                    f"incident {incident_id} has no stored evidence"
                    + (f" with id {evidence_id}" if evidence_id else "")
                )
            return Evidence.model_validate(row.data)

        return await self.db.read(tx)

    async def latest_diagnosis(self, incident_id: int) -> tuple[EvidenceRow, builtins.list[FindingRow], str | None]:
        """The latest evidence row, its findings (ranked) and the verdict they gave (what ``replay`` compares)."""

        async def tx(s: AsyncSession) -> tuple[EvidenceRow, builtins.list[FindingRow], str | None]:
            inc = await get_incident(s, self.db, incident_id)
            row = (
                await s.execute(
                    select(EvidenceRow)
                    .where(EvidenceRow.incident_id == incident_id)
                    .order_by(EvidenceRow.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if row is None:
                raise BadInput(f"incident {incident_id} has no stored evidence to replay")
            fs = builtins.list(
                (
                    await s.execute(
                        select(FindingRow).where(FindingRow.evidence_id == row.id).order_by(FindingRow.rank)
                    )
                ).scalars()
            )
            return row, fs, row.verdict or inc.verdict

        return await self.db.read(tx)

    async def list(
        self, status: str | Sequence[str] | None = None, host: str | None = None, limit: int = 50
    ) -> builtins.list[IncidentSummary]:
        """Newest first; *status* one or several (``"open,acked"``), *host* the inventory name or address."""
        statuses = parse_statuses(status)
        limit = max(1, min(int(limit), 1000))
        q = select(Incident)
        if statuses:
            q = q.where(Incident.status.in_(statuses))
        if host:
            q = q.where(
                (Incident.host == host) | (Incident.address == host)
                if "." in host or ":" in host
                else Incident.host == host
            )
        q = q.order_by(Incident.id.desc()).limit(limit)

        async def tx(s: AsyncSession) -> builtins.list[IncidentSummary]:
            return [IncidentSummary.of(i) for i in (await s.execute(q)).scalars()]

        return await self.db.read(tx)
