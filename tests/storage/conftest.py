"""Storage tests run on SQLite (a temp file) and PostgreSQL (a throw-away database per session).

PostgreSQL: ``$WHYCANT_PG_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``) is the
admin connection; the session creates ``whycant_test_<random>`` there and drops it at the end. When the
server is unreachable the PostgreSQL variants are skipped with the reason (CI turns skips into failures).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("WHYCANT_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TABLES = (
    "findings",
    "evidence",
    "audit",
    "askers",
    "incidents",
    "slack_events",
    "drift_snapshots",
    "drift_waivers",
    "report_runs",
)


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(PG_ADMIN_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Any:
    """URL of a fresh PostgreSQL database for this test session (dropped at the end)."""
    name = f"whycant_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # noqa: BLE001
        pytest.skip(
            f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)} "
            f"(set WHYCANT_PG_URL): {type(e).__name__}: {e}"
        )
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    url_s = url.render_as_string(hide_password=False)

    async def upgrade() -> None:
        from bot.storage.db import Database

        db = Database(url_s)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(upgrade())
    yield url_s
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(_asyncpg_dsn(url, u.database), timeout=5)
    try:
        exists = await conn.fetchval("SELECT to_regclass('incidents') IS NOT NULL")
        if exists:
            await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL with an empty, migrated-or-migratable schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'whycant.db'}"
    url = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
async def db(db_url: str):
    from bot.storage.db import Database

    d = Database(db_url)
    await d.ensure_schema(True)
    yield d
    await d.dispose()


@pytest.fixture
async def svc(db):
    from bot.storage.incidents import IncidentService

    return IncidentService(db, join_window_minutes=10)


@pytest.fixture
def config_file(db_url: str, tmp_path: Path) -> str:
    p = tmp_path / "whycant.yaml"
    p.write_text(f"database: {db_url}\njoin_window_minutes: 10\n")
    return str(p)
