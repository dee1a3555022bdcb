"""Watches in the database: create or join, heartbeat, stop, finish, and the stale-watch claim.

Take-over is exactly once across replicas: a replica that sees an active watch whose heartbeat is
older than *stale_after* claims ``report_runs ("watch:<id>", heartbeat_at)`` (the mechanism of the
scheduled reports, ``bot.storage.claims.claim_report_run``); only the replica whose insert wins
resumes it, and the new heartbeat makes any later take-over a new claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.claims import claim_report_run
from bot.storage.db import Database
from bot.storage.models import WatchRow, utcnow
from probes.errors import BadInput
from probes.evidence import Request


@dataclass
class WatchRecord:
    """A plain copy of one ``watches`` row (no session attached)."""

    id: int
    host: str
    address: str
    port: int
    request: Request
    interval_s: float
    status: str
    started_at: datetime
    ends_at: datetime
    askers: list[dict]
    channel: str | None
    thread_ts: str | None
    owner: str | None
    heartbeat_at: datetime
    stats: dict
    episodes: list[dict]
    incident_id: int | None = None
    ended_at: datetime | None = None
    end_note: str | None = None
    taken_over_from: datetime | None = None  # the stale heartbeat a take-over claimed

    @classmethod
    def of(cls, r: WatchRow) -> "WatchRecord":
        return cls(
            id=r.id,
            host=r.host,
            address=r.address,
            port=r.port,
            request=Request.model_validate(r.request),
            interval_s=r.interval_s,
            status=r.status,
            started_at=r.started_at,
            ends_at=r.ends_at,
            askers=list(r.askers or []),
            channel=r.channel,
            thread_ts=r.thread_ts,
            owner=r.owner,
            heartbeat_at=r.heartbeat_at,
            stats=dict(r.stats or {}),
            episodes=list(r.episodes or []),
            incident_id=r.incident_id,
            ended_at=r.ended_at,
            end_note=r.end_note,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": f"{self.host}:{self.port}",
            "vantages": list(self.request.vantages),
            "interval_s": self.interval_s,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "askers": [a.get("who") for a in self.askers],
            "owner": self.owner,
            "episodes": len(self.episodes),
            "thread_ts": self.thread_ts,
            "channel": self.channel,
        }


class WatchStore:
    def __init__(self, db: Database, replica: str):
        self.db, self.replica = db, replica

    async def create_or_join(
        self, request: Request, *, interval_s: float, duration_s: float, who: str, channel: str | None
    ) -> tuple[WatchRecord, bool]:
        """The active watch of request's host:port with *who* added (joined=True), or a new one owned here."""
        asker = {"who": who, "at": utcnow().isoformat(), "channel": channel}
        for _ in range(3):
            try:
                return await self.db.write(
                    lambda s: self._create_or_join(s, request, interval_s, duration_s, asker, channel)
                )
            except IntegrityError:  # another replica inserted the same target at the same moment: join it
                continue
        raise BadInput(f"could not start or join the watch of {request.target}:{request.port}; try again")

    async def _create_or_join(
        self, s: AsyncSession, request: Request, interval_s: float, duration_s: float, asker: dict, channel: str | None
    ) -> tuple[WatchRecord, bool]:
        row = (
            await s.execute(
                select(WatchRow).where(
                    WatchRow.host == request.target, WatchRow.port == request.port, WatchRow.status == "active"
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            if all(a.get("who") != asker["who"] for a in row.askers or []):
                row.askers = [*(row.askers or []), asker]
            return WatchRecord.of(row), True
        now = utcnow()
        row = WatchRow(
            host=request.target,
            address=request.address,
            port=request.port or 0,
            request=request.model_dump(mode="json"),
            interval_s=interval_s,
            status="active",
            started_at=now,
            ends_at=now + timedelta(seconds=duration_s),
            askers=[asker],
            channel=channel,
            owner=self.replica,
            heartbeat_at=now,
            stats={},
            episodes=[],
        )
        s.add(row)
        await s.flush()
        return WatchRecord.of(row), False

    async def get(self, watch_id: int) -> WatchRecord:
        async def tx(s: AsyncSession) -> WatchRecord:
            row = await s.get(WatchRow, watch_id)
            if row is None:
                raise BadInput(f"no watch {watch_id}; `watches` lists them")
            return WatchRecord.of(row)

        return await self.db.read(tx)

    async def active(self) -> list[WatchRecord]:
        async def tx(s: AsyncSession) -> list[WatchRecord]:
            rows = (
                await s.execute(select(WatchRow).where(WatchRow.status == "active").order_by(WatchRow.id))
            ).scalars()
            return [WatchRecord.of(r) for r in rows]

        return await self.db.read(tx)

    async def set_thread(self, watch_id: int, channel: str | None, thread_ts: str | None) -> None:
        await self.db.write(
            lambda s: s.execute(
                update(WatchRow).where(WatchRow.id == watch_id).values(channel=channel, thread_ts=thread_ts)
            )
        )

    async def heartbeat(self, watch_id: int, *, stats: dict, episodes: list[dict], incident_id: int | None) -> str:
        """Save progress while this replica owns the watch; returns the row's status ("active" goes on)."""

        async def tx(s: AsyncSession) -> str:
            row = await s.get(WatchRow, watch_id)
            if row is None:
                return "gone"
            if row.owner != self.replica:
                return "taken"
            row.heartbeat_at, row.stats, row.episodes = utcnow(), stats, episodes
            if incident_id is not None:
                row.incident_id = incident_id
            return row.status

        return await self.db.write(tx)

    async def release(self, watch_id: int, *, stats: dict, episodes: list[dict]) -> None:
        """A graceful stop: save progress and back-date the heartbeat so any replica resumes it at once
        (the back-dated heartbeat is a fresh claim key, so the take-over is still exactly once)."""

        async def tx(s: AsyncSession) -> None:
            row = await s.get(WatchRow, watch_id)
            if row is None or row.owner != self.replica or row.status != "active":
                return
            row.stats, row.episodes, row.owner = stats, episodes, None
            row.heartbeat_at = utcnow() - timedelta(days=1)

        await self.db.write(tx)

    async def stop(self, watch_id: int, who: str) -> WatchRecord:
        """``unwatch N``: mark it stopped; its owner notices on its next round and posts the summary."""

        async def tx(s: AsyncSession) -> WatchRecord:
            row = await s.get(WatchRow, watch_id)
            if row is None:
                raise BadInput(f"no watch {watch_id}; `watches` lists them")
            if row.status != "active":
                raise BadInput(f"watch {watch_id} has already {row.status}")
            row.status, row.ended_at, row.end_note = "stopped", utcnow(), f"stopped by {who}"
            return WatchRecord.of(row)

        return await self.db.write(tx)

    async def finish(self, watch_id: int, *, status: str, note: str | None, stats: dict, episodes: list[dict]) -> None:
        async def tx(s: AsyncSession) -> None:
            row = await s.get(WatchRow, watch_id)
            if row is None:
                return
            if row.status == "active":
                row.status, row.ended_at = status, utcnow()
            row.end_note = row.end_note or note
            row.stats, row.episodes = stats, episodes

        await self.db.write(tx)

    async def claim_stale(self, stale_after: float, only: int | None = None) -> list[WatchRecord]:
        """Active watches whose owner stopped beating (or just watch *only*), claimed by this replica
        (exactly once each)."""
        cutoff = utcnow() - timedelta(seconds=stale_after)

        async def find(s: AsyncSession) -> list[tuple[int, datetime]]:
            q = select(WatchRow.id, WatchRow.heartbeat_at).where(
                WatchRow.status == "active", WatchRow.heartbeat_at < cutoff
            )
            rows = await s.execute(q if only is None else q.where(WatchRow.id == only))
            return [(i, hb) for i, hb in rows]

        won: list[WatchRecord] = []
        for watch_id, beat in await self.db.read(find):
            if not await claim_report_run(self.db, f"watch:{watch_id}", beat, self.replica):
                continue

            async def take(s: AsyncSession, watch_id: int = watch_id, beat: datetime = beat) -> WatchRecord | None:
                res = await s.execute(
                    update(WatchRow)
                    .where(WatchRow.id == watch_id, WatchRow.heartbeat_at == beat, WatchRow.status == "active")
                    .values(owner=self.replica, heartbeat_at=utcnow())
                )
                row = await s.get(WatchRow, watch_id, populate_existing=True)
                if getattr(res, "rowcount", 0) != 1 or row is None:
                    return None
                rec = WatchRecord.of(row)
                rec.taken_over_from = beat
                return rec

            rec = await self.db.write(take)
            if rec is not None:
                won.append(rec)
        return won
