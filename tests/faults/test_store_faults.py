"""Answer first, store reliably (issue 11 point 3), with real parts: a SQLite file locked by another real
process, a PostgreSQL URL to a closed loopback port, a throwaway PostgreSQL database dropped under the bot.

Before: the locked file blocked ``ask`` for ~50 s, then a traceback and no answer; an unreachable database
at start gave no diagnosis at all; the CLI printed "(retrying)", exited and dropped the evidence.
"""

from __future__ import annotations

import asyncio
import json
import stat

import pytest

from tests.faults.helpers import (
    closed_port,
    run,
    sqlite_locked_by_another_process,
    timed,
    write_config,
)
from tests.pg import admin_connection, throwaway_database


def _spooled(tmp):
    d = tmp / "spool"
    return sorted(p for p in d.glob("*.json")) if d.is_dir() else []


def _assert_answer_and_spool(r, tmp, elapsed, bound):
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["findings"][0]["id"] == "port-not-listening"  # the diagnosis is given
    assert out["incident"] is None
    note = out["incident_detail"]["storage_error"]
    assert "retrying" not in note and "written when the database is back" in note
    assert "Traceback" not in r.stderr
    assert elapsed < bound, f"ask took {elapsed:.1f} s with the database failing"
    files = _spooled(tmp)
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    saved = json.loads(files[0].read_text())
    assert saved["evidence"]["connect"] and saved["diagnosis"]["findings"][0]["id"] == "port-not-listening"
    return out


def test_sqlite_locked_by_another_process_answers_then_writes_on_next_run(tmp_path):
    db = tmp_path / "w.db"
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    port = closed_port()
    assert run(tmp_path, "db", "upgrade", cfg=cfg).returncode == 0
    with sqlite_locked_by_another_process(db):
        r, elapsed = timed(run, tmp_path, "ask", f"localhost:{port}", "--json", cfg=cfg)
        _assert_answer_and_spool(r, tmp_path, elapsed, bound=15)
        assert "database" in json.loads(r.stdout)["incident_detail"]["storage_error"]
    # lock released: the next run writes the spooled incident first, then its own joins it
    r2 = run(tmp_path, "ask", f"localhost:{port}", "--json", cfg=cfg)
    assert r2.returncode == 0, r2.stderr
    out2 = json.loads(r2.stdout)
    assert isinstance(out2["incident"], int) and out2["incident_detail"]["joined"] is True
    assert _spooled(tmp_path) == []
    shown = json.loads(run(tmp_path, "incidents", "show", str(out2["incident"]), "--json", cfg=cfg).stdout)
    assert len(shown["evidence"]) == 2  # both diagnoses' evidence, none lost


def test_sqlite_locked_before_the_schema_exists(tmp_path):
    """A fresh file locked (rollback journal, exclusive): even reading the schema blocks."""
    db = tmp_path / "w.db"
    db.touch(mode=0o600)
    cfg = write_config(tmp_path, f"sqlite:///{db}")
    with sqlite_locked_by_another_process(db):
        r, elapsed = timed(run, tmp_path, "ask", f"localhost:{closed_port()}", "--json", cfg=cfg)
        _assert_answer_and_spool(r, tmp_path, elapsed, bound=15)


def test_postgres_unreachable_at_start_still_answers(tmp_path):
    cfg = write_config(tmp_path, f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/whycant")
    r, elapsed = timed(run, tmp_path, "ask", f"localhost:{closed_port()}", "--json", cfg=cfg)
    out = _assert_answer_and_spool(r, tmp_path, elapsed, bound=15)
    assert "database unavailable" in out["incident_detail"]["storage_error"]
    # triage says why there is nothing to list, in one line, exit 2
    r = run(tmp_path, "incidents", "list", cfg=cfg)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
async def test_postgres_database_dropped_then_back(tmp_path):
    async with throwaway_database("whycant_faults") as url:
        cfg = write_config(tmp_path, url)
        port = closed_port()
        first = await asyncio.to_thread(run, tmp_path, "ask", f"localhost:{port}", "--json", cfg=cfg)
        assert first.returncode == 0 and isinstance(json.loads(first.stdout)["incident"], int), first.stderr
        name = url.rsplit("/", 1)[1]
        admin = await admin_connection()
        try:
            await admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
            r, elapsed = await asyncio.to_thread(timed, run, tmp_path, "ask", f"localhost:{port}", "--json", cfg=cfg)
            _assert_answer_and_spool(r, tmp_path, elapsed, bound=15)
        finally:
            await admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')
            await admin.close()
        r2 = await asyncio.to_thread(run, tmp_path, "ask", f"localhost:{port}", "--json", cfg=cfg)
        out2 = json.loads(r2.stdout)
        assert out2["incident"] == json.loads(first.stdout)["incident"]  # spooled write joined, then this one
        assert _spooled(tmp_path) == []
        shown = json.loads(
            (
                await asyncio.to_thread(run, tmp_path, "incidents", "show", str(out2["incident"]), "--json", cfg=cfg)
            ).stdout
        )
        assert len(shown["evidence"]) == 3


async def test_database_locked_after_start_answers_within_the_wait_and_spools(tmp_path):
    """The database was fine at start, then another process locks it: the ask (recording the asker before
    probing, storing the result after) answers within about one `database_wait_seconds`, spools the
    incident, and the spool is written once the lock is gone."""
    from bot.config import parse_config
    from bot.service import Whycant

    db = tmp_path / "w.db"
    cfg = parse_config(
        {
            "database": f"sqlite:///{db}",
            "spool_dir": str(tmp_path / "spool"),
            "database_wait_seconds": 1,
            "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
            "probe": {"window_seconds": 0.2, "connect_attempts": 2, "connect_timeout": 1},
        },
        source=str(tmp_path / "whycant.yaml"),
    )
    svc = await Whycant.create(cfg)
    try:
        assert svc.store is not None
        port = closed_port()
        with sqlite_locked_by_another_process(db):
            t0 = asyncio.get_running_loop().time()
            out = await svc.handle(f"localhost:{port}", who="alice")
            took = asyncio.get_running_loop().time() - t0
        assert out.kind == "diagnosis" and out.diagnosis.findings[0].id == "port-not-listening"
        assert out.incident.id is None and "written when the database is back" in out.incident.storage_error
        assert took < 1 + 0.2 + 3, f"{took:.1f} s"  # one wait (the start's), the probes, no second wait
        assert len(_spooled(tmp_path)) == 1
        await svc.reconnect_and_flush()
        assert _spooled(tmp_path) == []
        [inc] = await svc.store.list_incidents()
        assert inc.port == port and inc.asked_count == 1
    finally:
        await svc.close()
