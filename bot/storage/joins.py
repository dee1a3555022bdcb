"""A caller that joined a diagnosis already running (bot/singleflight.py) joins its incident too.

The run's leader opened (or joined) the incident and stored the evidence once; the joiners are
only added as askers, all in one transaction: ``asked_count`` + 1, an ``Asker`` row and a ``joined``
audit entry with ``"shared_run": true`` each. No second evidence row, no second set of findings.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.incidents import IncidentService
from bot.storage.models import Asker
from bot.storage.results import IncidentRef
from bot.storage.rows import add_audit, get_incident


async def add_askers(
    svc: IncidentService, incident_id: int, asks: Sequence[tuple[str | None, str | None, str | None]]
) -> IncidentRef:
    """Add each ``(who, channel, thread_ts)`` of *asks* to the incident; one write for all."""

    async def tx(s: AsyncSession) -> IncidentRef:
        now = svc.clock()
        inc = await get_incident(s, svc.db, incident_id, for_update=True)
        inc.last_asked_at = max(inc.last_asked_at, now)
        inc.updated_at = now
        for who, channel, thread_ts in asks:
            who_ = who or "unknown"
            inc.asked_count += 1
            if channel and not inc.channel:
                inc.channel, inc.thread_ts = channel, thread_ts
            s.add(Asker(incident_id=inc.id, who=who_, asked_at=now, channel=channel, thread_ts=thread_ts))
            add_audit(
                s,
                inc.id,
                "joined",
                who_,
                now,
                {"channel": channel, "thread_ts": thread_ts, "asked_count": inc.asked_count, "shared_run": True},
            )
        return await svc.incident_ref(s, inc, True, now)

    return await svc.db.write(tx)
