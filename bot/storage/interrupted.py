"""Mark this process's unfinished diagnoses ``interrupted`` when it is stopped by a signal (issue 11 point 5).

The same treatment ``IncidentService.mark_interrupted_on_start`` gives a crashed process's runs at the next
start, done by the process itself on its way out: every incident this runner is still ``diagnosing``
gets an ``interrupted`` audit entry (with the signal); one that never got a diagnosis becomes ``interrupted``.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.incidents import IncidentService
from bot.storage.models import ACTIVE_STATUSES, EvidenceRow, Incident


async def interrupt_own_runs(service: IncidentService, reason: str) -> list[int]:
    """Stop this runner's ``diagnosing`` marks; returns the incident ids. *reason*: e.g. "SIGTERM"."""

    async def tx(s: AsyncSession) -> list[int]:
        now = service.clock()
        q = select(Incident).where(Incident.diagnosing.is_(True), Incident.runner == service.runner)
        out = []
        for inc in (await s.execute(q.order_by(Incident.id))).scalars():
            n_evidence = (await s.execute(select(func.count()).select_from(EvidenceRow)
                                          .where(EvidenceRow.incident_id == inc.id))).scalar_one()
            previous = inc.status
            if n_evidence == 0 and inc.status in ACTIVE_STATUSES:
                inc.status = "interrupted"
            service._audit(s, inc.id, "interrupted", "whycant", now,
                           {"runner": inc.runner, "reason": reason, "previous_status": previous,
                            "status": inc.status})
            inc.diagnosing, inc.runner, inc.diagnosing_since, inc.updated_at = False, None, None, now
            out.append(inc.id)
        return out

    return await service.db.write(tx)
