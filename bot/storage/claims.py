"""Cross-replica coordination in the database: Slack event dedup and scheduled report claims.

Drift snapshots and waivers live in ``bot.drift.store.DriftStore``.

* ``claim_event(db, event_id)`` → True for the first replica to see a Slack event id (Events API retries
  and the same event on several Socket Mode connections are dropped by the others).
* ``claim_report_run(db, name, scheduled_for, replica)`` → True for exactly one replica per occurrence:
  the unique (name, scheduled_for) row is the claim.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import ReportRun, SlackEvent, utcnow


def _insert(db: Database, model: Any) -> Any:
    return (pg_insert if db.is_postgres else sqlite_insert)(model)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


async def claim_event(
    db: Database, event_id: str, *, ttl: timedelta = timedelta(hours=2), replica: str | None = None
) -> bool:
    """True if this call is the first to claim *event_id* (kept for *ttl*, then purged)."""
    now = utcnow()

    async def tx(s: AsyncSession) -> bool:
        if random.random() < 0.02:  # purge expired ids now and then
            await s.execute(delete(SlackEvent).where(SlackEvent.expires_at < now))
        stmt = _insert(db, SlackEvent).values(event_id=event_id, seen_at=now, expires_at=now + ttl, replica=replica)
        res = cast(CursorResult[Any], await s.execute(stmt.on_conflict_do_nothing(index_elements=["event_id"])))
        return bool(res.rowcount == 1)

    return await db.write(tx)


async def claim_report_run(
    db: Database, name: str, scheduled_for: datetime, replica: str, *, late: bool = False
) -> bool:
    """True for the one replica that gets to post report *name* scheduled at *scheduled_for*."""
    when = _utc(scheduled_for)

    async def tx(s: AsyncSession) -> bool:
        stmt = _insert(db, ReportRun).values(
            name=name, scheduled_for=when, claimed_by=replica, claimed_at=utcnow(), late=late
        )
        res = cast(
            CursorResult[Any], await s.execute(stmt.on_conflict_do_nothing(index_elements=["name", "scheduled_for"]))
        )
        return bool(res.rowcount == 1)

    return await db.write(tx)


async def mark_report_posted(db: Database, name: str, scheduled_for: datetime, error: str | None = None) -> None:
    async def tx(s: AsyncSession) -> None:
        await s.execute(
            update(ReportRun)
            .where(ReportRun.name == name, ReportRun.scheduled_for == _utc(scheduled_for))
            .values(posted_at=None if error else utcnow(), error=error)
        )

    await db.write(tx)


async def last_report_run(db: Database, name: str) -> ReportRun | None:
    async def tx(s: AsyncSession) -> ReportRun | None:
        return (
            await s.execute(
                select(ReportRun).where(ReportRun.name == name).order_by(ReportRun.scheduled_for.desc()).limit(1)
            )
        ).scalar_one_or_none()

    return await db.read(tx)
