"""A caller that joined a diagnosis already running (bot/singleflight.py) joins its incident too.

The run's leader opened (or joined) the incident and stored the evidence once; each joiner is
only added as an asker: ``asked_count`` + 1, an ``Asker`` row and a ``joined`` audit entry with
``"shared_run": true``. No second evidence row, no second set of findings.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.incidents import IncidentRef, IncidentService
from bot.storage.models import Asker


async def add_asker(svc: IncidentService, incident_id: int, who: str | None, channel: str | None = None,
                    thread_ts: str | None = None) -> IncidentRef:
    who_ = who or "unknown"

    async def tx(s: AsyncSession) -> IncidentRef:
        now = svc.clock()
        inc = await svc._get_row(s, incident_id, for_update=True)
        inc.asked_count += 1
        inc.last_asked_at = max(inc.last_asked_at, now)
        inc.updated_at = now
        if channel and not inc.channel:
            inc.channel, inc.thread_ts = channel, thread_ts
        s.add(Asker(incident_id=inc.id, who=who_, asked_at=now, channel=channel, thread_ts=thread_ts))
        svc._audit(s, inc.id, "joined", who_, now, {"channel": channel, "thread_ts": thread_ts,
                                                     "asked_count": inc.asked_count, "shared_run": True})
        return await svc._ref(s, inc, True, now)

    return await svc.db.write(tx)
