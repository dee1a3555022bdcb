"""Row helpers every incident transaction uses: fetch an incident, append an audit entry, count its evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.errors import IncidentNotFound
from bot.storage.models import AuditEntry, EvidenceRow, Incident


async def get_incident(s: AsyncSession, db: Database, incident_id: int, *, for_update: bool = False) -> Incident:
    """The incident row (locked for update on PostgreSQL when *for_update*); ``IncidentNotFound`` if none."""
    q = select(Incident).where(Incident.id == incident_id)
    if for_update and db.is_postgres:
        q = q.with_for_update()
    row = (await s.execute(q)).scalar_one_or_none()
    if row is None:
        raise IncidentNotFound(incident_id)
    return row


def add_audit(
    s: AsyncSession, incident_id: int, action: str, who: str | None, at: datetime, detail: dict[str, Any] | None = None
) -> AuditEntry:
    entry = AuditEntry(incident_id=incident_id, action=action, who=who, at=at, detail=detail or {})
    s.add(entry)
    return entry


async def evidence_count(s: AsyncSession, incident_id: int) -> int:
    q = select(func.count()).select_from(EvidenceRow).where(EvidenceRow.incident_id == incident_id)
    return int((await s.execute(q)).scalar_one())
