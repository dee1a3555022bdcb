"""The spool itself (bot/storage/spool.py) and serve's background writer, on a real SQLite file and a real
PostgreSQL database that comes back: records are written once (even by two flushers at once), an unreadable
file is kept as ``*.bad``, and ``serve``'s writer reconnects to a database that was away at start."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime

import pytest

from bot.config import parse_config
from bot.service import Whycant
from bot.storage.db import Database
from bot.storage.incidents import IncidentService
from bot.storage.resilient import flush_until
from bot.storage.spool import Spool
from tests.pg import admin_connection, throwaway_database
from tests.storage.factories import make_diagnosis, make_evidence, make_request


def _keep(spool: Spool, host: str = "db01", who: str = "alice"):
    return spool.keep(
        "database locked",
        pending_id=None,
        request=make_request(host),
        evidence=make_evidence(host),
        diagnosis=make_diagnosis(),
        who=who,
        channel="C1",
        thread_ts="1.1",
        at=datetime.now(UTC),
    )


async def test_two_flushers_write_each_record_once_and_bad_files_are_kept(tmp_path):
    spool = Spool(tmp_path / "spool")
    info = _keep(spool)
    assert info.id is None and "written when the database is back" in info.storage_error
    for who in ("bob", "carol"):
        _keep(spool, who=who)
    _keep(spool, host="db02")
    assert stat.S_IMODE(spool.dir.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in spool.pending())
    (spool.dir / "00000000000000000000-1-deadbeef.json").write_text("{not json")  # a torn or foreign file

    a = IncidentService(Database(f"sqlite:///{tmp_path}/w.db"))
    await a.db.upgrade()
    b = IncidentService(Database(f"sqlite:///{tmp_path}/w.db"))
    try:
        ra, rb = await asyncio.gather(spool.flush(a), Spool(spool.dir).flush(b))
        assert len(ra.written) + len(rb.written) == 4  # every good record written exactly once
        assert spool.pending() == []
        assert [p.name for p in spool.dir.glob("*.bad")] == ["00000000000000000000-1-deadbeef.bad"]
        incidents = await a.list()
        assert sorted(i.host for i in incidents) == ["db01", "db02"]
        db01 = next(i for i in incidents if i.host == "db01")
        assert db01.asked_count == 3  # alice, bob, carol joined one incident, in order
    finally:
        await a.close()
        await b.close()


@pytest.mark.postgres
async def test_serve_writer_reconnects_and_writes_the_spool(tmp_path):
    async with throwaway_database("whycant_spool") as url:
        name = url.rsplit("/", 1)[1]
        admin = await admin_connection()
        await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
        try:
            cfg = parse_config(
                {
                    "database": url,
                    "spool_dir": str(tmp_path / "spool"),
                    "database_wait_seconds": 2,
                    "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
                },
                source=str(tmp_path / "whycant.yaml"),
            )
            svc = await Whycant.create(cfg)
            assert svc.store is None and "does not exist" in (svc.store_error or "")
            out = await svc.handle("help")
            assert out.kind == "help"
            info = _keep(svc.spool)
            assert info.id is None
        finally:
            await admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')
            await admin.close()
        stop = asyncio.Event()
        writer = asyncio.create_task(flush_until(svc, stop, interval=0.2))
        try:
            for _ in range(100):
                if svc.store is not None and not svc.spool.pending():
                    break
                await asyncio.sleep(0.1)
            assert svc.store is not None and svc.store_error is None
            assert svc.spool.pending() == []
            [inc] = await svc.store.list_incidents()
            assert inc.host == "db01"
        finally:
            stop.set()
            await writer
            await svc.close()
