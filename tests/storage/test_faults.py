"""A database that is down or locked when a diagnosis finishes never loses the answer."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.storage.db import Database, DatabaseUnavailable
from bot.storage.incidents import IncidentService
from bot.storage.retry import drain, record_with_retry

from .factories import make_diagnosis, make_evidence, make_request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _on_port(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _start_proxy(port: int, to_host: str, to_port: int) -> asyncio.base_events.Server:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(to_host, to_port)
        await asyncio.gather(_pipe(r, uw), _pipe(ur, w))

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def test_unavailable_names_url_without_password():
    port = _free_port()
    db = Database(f"postgresql://whycant:s3cret@127.0.0.1:{port}/incidents", connect_timeout=2)
    with pytest.raises(DatabaseUnavailable) as e:
        await db.ping()
    await db.dispose()
    assert "s3cret" not in str(e.value) and f"127.0.0.1:{port}/incidents" in str(e.value)
    assert str(e.value).startswith("database unavailable: postgresql+asyncpg://whycant:***@")


@pytest.mark.postgres
async def test_postgres_down_answer_given_write_retried_then_given_up(caplog, pg_url):
    caplog.set_level(logging.INFO, logger="whycant.storage")
    svc = IncidentService(Database(_on_port(pg_url, _free_port()), connect_timeout=2))
    failed = []
    t = time.monotonic()
    out = await record_with_retry(
        svc,
        make_request(),
        make_evidence(),
        make_diagnosis(),
        "alice",
        attempts=3,
        base_delay=0.02,
        on_failed=failed.append,
    )
    assert time.monotonic() - t < 3  # the front end is not kept waiting
    assert out.ref is None and out.incident_id is None and not out.stored
    assert out.error == "incident not stored: database unavailable (retrying)"
    assert await out.pending is None
    assert len(failed) == 1 and isinstance(failed[0], DatabaseUnavailable)
    msgs = [r.getMessage() for r in caplog.records]
    assert any("retrying in the background" in m for m in msgs)
    assert sum(m.startswith("incident write retry") for m in msgs) == 3
    assert any("gave up after 3 retries" in m for m in msgs)
    await svc.close()


@pytest.mark.postgres
async def test_postgres_comes_back_write_lands(pg_url):
    port = _free_port()
    down = IncidentService(Database(_on_port(pg_url, port), connect_timeout=2), join_window_minutes=10)
    stored = []
    out = await record_with_retry(
        down,
        make_request(),
        make_evidence(),
        make_diagnosis(),
        "alice",
        attempts=6,
        base_delay=0.3,
        on_stored=stored.append,
    )
    assert out.error == "incident not stored: database unavailable (retrying)"
    u = make_url(pg_url)
    proxy = await _start_proxy(port, u.host or "127.0.0.1", u.port or 5432)  # the database "comes back"
    try:
        ref = await asyncio.wait_for(out.pending, 20)
    finally:
        await down.close()
        proxy.close()
    assert ref is not None and stored == [ref]
    svc = IncidentService(Database(pg_url))
    try:
        d = await svc.get(ref.id)
    finally:
        await svc.close()
    assert d.incident.status == "open" and d.askers[0]["who"] == "alice"


async def test_sqlite_locked_answer_given_write_retried(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="whycant.storage")
    path = tmp_path / "locked.db"
    svc = IncidentService(Database(f"sqlite:///{path}", busy_timeout_ms=100, write_retries=1), join_window_minutes=10)
    await svc.db.upgrade()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        t = time.monotonic()
        out = await record_with_retry(
            svc, make_request(), make_evidence(), make_diagnosis(), "alice", attempts=8, base_delay=0.2
        )
        assert time.monotonic() - t < 3
        assert out.error == "incident not stored: database locked (retrying)" and out.pending is not None
        await asyncio.sleep(0.3)
        assert not out.pending.done()
    finally:
        holder.execute("COMMIT")
        holder.close()
    ref = await asyncio.wait_for(out.pending, 20)
    assert ref is not None and [i.id for i in await svc.list()] == [ref.id]
    assert any("database is locked" in r.getMessage() for r in caplog.records)
    await drain(1)
    await svc.close()


async def test_healthy_database_stores_at_once(svc: IncidentService):
    out = await record_with_retry(svc, make_request(), make_evidence(), make_diagnosis(), "alice")
    assert out.stored and out.error is None and out.pending is None and out.incident_id == out.ref.id
