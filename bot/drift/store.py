"""Drift storage over bot.storage's models: snapshots, waivers and report-run claims.

Works on a :class:`bot.storage.db.Database` (SQLite or PostgreSQL). ``DriftStore.for_service``
finds the Database behind whatever store object the service holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Any, Sequence, overload

from sqlalchemy import delete, desc, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.claims import claim_report_run
from bot.storage.db import Database
from bot.storage.models import DriftSnapshot, DriftWaiver, ReportRun

log = logging.getLogger("whycant.drift")

KEEP_SNAPSHOTS = 100  # per host


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def values_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@overload
def _aware(dt: datetime) -> datetime: ...
@overload
def _aware(dt: None) -> None: ...
def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class DriftStore:
    def __init__(self, db: Any):
        self.db = db

    @classmethod
    def for_service(cls, svc: Any) -> "DriftStore | None":
        """The DriftStore for a ``Whycant`` service (None when it has no database)."""
        store = getattr(svc, "store", None)
        if store is None:
            return None
        if isinstance(store, DriftStore):
            return store

        if isinstance(store, Database):
            return cls(store)
        for attr in ("db", "database", "_db"):
            db = getattr(store, attr, None)
            if isinstance(db, Database):
                return cls(db)
        return None

    # -- snapshots ------------------------------------------------------------------------------
    async def latest_snapshots(self, hosts: Sequence[str]) -> dict[str, tuple[datetime, dict[str, Any]]]:
        """host -> (taken_at, values) of each host's newest snapshot."""
        hosts = list(dict.fromkeys(hosts))
        if not hosts:
            return {}

        async def q(s):
            newest = (
                select(DriftSnapshot.host, func.max(DriftSnapshot.id).label("mid"))
                .where(DriftSnapshot.host.in_(hosts))
                .group_by(DriftSnapshot.host)
                .subquery()
            )
            rows = (await s.execute(select(DriftSnapshot).join(newest, DriftSnapshot.id == newest.c.mid))).scalars()
            return {r.host: (_aware(r.taken_at), dict(r.values)) for r in rows}

        return await self.db.read(q)

    async def save_snapshots(self, snaps: dict[str, dict[str, Any]], taken_at: datetime | None = None) -> None:
        taken_at = taken_at or utcnow()

        async def w(s):
            for host, values in snaps.items():
                s.add(DriftSnapshot(host=host, taken_at=taken_at, values=values, hash=values_hash(values)))
            await s.flush()
            for host in snaps:  # bounded history per host
                old = (
                    select(DriftSnapshot.id)
                    .where(DriftSnapshot.host == host)
                    .order_by(desc(DriftSnapshot.id))
                    .offset(KEEP_SNAPSHOTS)
                )
                ids = [i for (i,) in (await s.execute(old)).all()]
                if ids:
                    await s.execute(delete(DriftSnapshot).where(DriftSnapshot.id.in_(ids)))

        await self.db.write(w)

    # -- waivers --------------------------------------------------------------------------------
    async def add_waiver(self, host: str, key: str, until: datetime | None, reason: str, who: str | None) -> int:
        """Record a waiver; an active one for the same host and key is extended in place, not duplicated."""

        async def w(s):
            now = utcnow()
            active = (
                await s.execute(
                    select(DriftWaiver)
                    .where(DriftWaiver.host == host, DriftWaiver.key == key)
                    .where((DriftWaiver.until.is_(None)) | (DriftWaiver.until > now))
                    .order_by(DriftWaiver.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if active is not None:
                active.until, active.reason, active.who = until, reason, who
                await s.flush()
                return active.id
            row = DriftWaiver(host=host, key=key, until=until, reason=reason, who=who, created_at=now)
            s.add(row)
            await s.flush()
            return row.id

        return await self.db.write(w)

    async def remove_waiver(self, waiver_id: int) -> bool:
        async def w(s):
            res = await s.execute(delete(DriftWaiver).where(DriftWaiver.id == waiver_id))
            return (res.rowcount or 0) > 0

        return await self.db.write(w)

    async def waivers(self, *, active_at: datetime | None = None) -> list[dict[str, Any]]:
        """All waivers (or those still in force at *active_at*), newest first."""

        async def q(s):
            stmt = select(DriftWaiver).order_by(desc(DriftWaiver.id))
            if active_at is not None:
                stmt = stmt.where((DriftWaiver.until.is_(None)) | (DriftWaiver.until > active_at))
            return [
                {
                    "id": r.id,
                    "host": r.host,
                    "key": r.key,
                    "until": _aware(r.until),
                    "reason": r.reason,
                    "who": r.who,
                    "created_at": _aware(r.created_at),
                }
                for r in (await s.execute(stmt)).scalars()
            ]

        return await self.db.read(q)

    # -- report runs ----------------------------------------------------------------------------
    async def claim_report_run(self, name: str, scheduled_for: datetime, replica: str, *, late: bool = False) -> bool:
        """Insert the (name, scheduled_for) row; True for the one replica whose insert wins
        (``bot.storage.claims.claim_report_run``: INSERT ... ON CONFLICT DO NOTHING)."""
        try:
            return await claim_report_run(self.db, name, _aware(scheduled_for), replica, late=late)
        except IntegrityError:
            return False

    async def finish_report_run(
        self, name: str, scheduled_for: datetime, *, posted: bool, error: str | None = None
    ) -> None:
        scheduled_for = _aware(scheduled_for)

        async def w(s):
            await s.execute(
                update(ReportRun)
                .where(ReportRun.name == name, ReportRun.scheduled_for == scheduled_for)
                .values(posted_at=utcnow() if posted else None, error=error)
            )

        await self.db.write(w)

    async def report_runs(self, name: str | None = None) -> list[dict[str, Any]]:
        async def q(s):
            stmt = select(ReportRun).order_by(ReportRun.scheduled_for, ReportRun.id)
            if name is not None:
                stmt = stmt.where(ReportRun.name == name)
            return [
                {
                    "name": r.name,
                    "scheduled_for": _aware(r.scheduled_for),
                    "claimed_by": r.claimed_by,
                    "claimed_at": _aware(r.claimed_at),
                    "posted_at": _aware(r.posted_at),
                    "late": r.late,
                    "error": r.error,
                }
                for r in (await s.execute(stmt)).scalars()
            ]

        return await self.db.read(q)

    async def last_report_run(self, name: str) -> datetime | None:
        async def q(s):
            return (await s.execute(select(func.max(ReportRun.scheduled_for)).where(ReportRun.name == name))).scalar()

        return _aware(await self.db.read(q))
