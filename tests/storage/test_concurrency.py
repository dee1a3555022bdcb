"""Concurrent asks and cross-replica claims: nothing lost, nothing duplicated, no "database is locked"."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

from sqlalchemy import func, select

from bot.storage.claims import claim_event, claim_report_run, mark_report_posted
from bot.storage.db import Database
from bot.storage.incidents import IncidentService
from bot.storage.models import Asker, AuditEntry, EvidenceRow, Incident

from .factories import make_diagnosis, make_evidence, make_request


async def _counts(db: Database) -> dict:
    async def q(s):
        incidents = (await s.execute(select(func.count()).select_from(Incident))).scalar_one()
        audit = dict((await s.execute(select(AuditEntry.action, func.count()).group_by(AuditEntry.action))).all())
        askers = (await s.execute(select(func.count()).select_from(Asker))).scalar_one()
        evidence = (await s.execute(select(func.count()).select_from(EvidenceRow))).scalar_one()
        asked = (await s.execute(select(func.sum(Incident.asked_count)))).scalar_one()
        return {"incidents": incidents, "audit": audit, "askers": askers, "evidence": evidence, "asked": asked}

    return await db.read(q)


async def test_50_concurrent_asks_about_10_targets(svc: IncidentService, db: Database):
    targets = [(f"db{n:02d}", 5432) for n in range(10)]
    asks = [targets[i % 10] for i in range(50)]
    random.Random(4).shuffle(asks)

    async def ask(i: int, host: str, port: int):
        await asyncio.sleep(random.random() / 100)
        return await svc.record_diagnosis(
            make_request(host, port), make_evidence(host, port), make_diagnosis(), f"user{i}"
        )

    refs = await asyncio.gather(*(ask(i, h, p) for i, (h, p) in enumerate(asks)))
    assert len({r.id for r in refs}) == 10
    assert sum(not r.joined for r in refs) == 10
    c = await _counts(db)
    assert c["incidents"] == 10 and c["askers"] == 50 and c["evidence"] == 50 and c["asked"] == 50
    assert c["audit"] == {"asked": 10, "joined": 40}
    for item in await svc.list():
        assert item.asked_count == 5


async def test_two_replicas_share_the_database(db_url: str, db: Database):
    """Two engines (as two bot replicas would have) asking at once still make one incident per target."""
    a = IncidentService(Database(db_url), join_window_minutes=10, runner="replica-a:1:1")
    b = IncidentService(Database(db_url), join_window_minutes=10, runner="replica-b:1:1")
    try:
        jobs = []
        for i in range(30):
            svc = a if i % 2 else b
            host = f"app{i % 3}"
            jobs.append(
                svc.record_diagnosis(make_request(host, 80), make_evidence(host, 80), make_diagnosis(), f"u{i}")
            )
        refs = await asyncio.gather(*jobs)
    finally:
        await a.close()
        await b.close()
    assert len({r.id for r in refs}) == 3
    c = await _counts(db)
    assert c["incidents"] == 3 and c["audit"] == {"asked": 3, "joined": 27}


async def test_claim_event_once_across_replicas(db_url: str, db: Database):
    others = [Database(db_url) for _ in range(3)]
    try:
        dbs = [db, *others]
        results = await asyncio.gather(*(claim_event(dbs[i % 4], "Ev0123", replica=f"r{i}") for i in range(20)))
        assert results.count(True) == 1
        assert await claim_event(db, "Ev0456") is True
        assert await claim_event(others[0], "Ev0456") is False
    finally:
        for d in others:
            await d.dispose()


async def test_claim_report_run_once(db_url: str, db: Database):
    others = [Database(db_url) for _ in range(2)]
    when = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    try:
        dbs = [db, *others]
        res = await asyncio.gather(
            *(claim_report_run(dbs[i % 3], "weekly-drift", when, f"replica-{i}") for i in range(9))
        )
        assert res.count(True) == 1
        assert await claim_report_run(db, "weekly-drift", when.replace(day=12), "replica-0") is True
        await mark_report_posted(db, "weekly-drift", when)
    finally:
        for d in others:
            await d.dispose()
