"""Alembic migrations: up, down to base, up again; and the models agree with them (autogenerate finds nothing)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from bot.storage.db import Database, normalize_url
from bot.storage.models import Base
from bot.storage.schema import migrations_dir
from probes.errors import BadInput

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "incidents",
    "askers",
    "evidence",
    "findings",
    "audit",
    "slack_events",
    "drift_snapshots",
    "drift_waivers",
    "report_runs",
    "watches",
}


async def _diff(db: Database, metadata: MetaData) -> list:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
        )


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_and_models_match(db_url: str):
    db = Database(db_url)
    try:
        assert await db.upgrade() == db.head() == "0002"
        assert TABLES <= await _tables(db)
        assert await _diff(db, Base.metadata) == []

        # the comparison does see differences (negative control)
        md = MetaData()
        for t in Base.metadata.sorted_tables:
            t.to_metadata(md)
        md.tables["incidents"].append_column(Column("extra", Integer))
        diff = await _diff(db, md)
        assert [d[0] for d in diff] == ["add_column"]

        assert await db.downgrade("base") is None
        assert await _tables(db) == {"alembic_version"}
        assert await db.upgrade() == "0002"
        assert await db.upgrade() == "0002"  # idempotent
        assert await _diff(db, Base.metadata) == []
    finally:
        await db.dispose()


async def test_ensure_schema_without_auto_upgrade(db_url: str):
    db = Database(db_url)
    try:
        await db.upgrade()
        await db.downgrade("base")
        with pytest.raises(BadInput, match="run `whycant db upgrade`"):
            await db.ensure_schema(auto_upgrade=False)
        await db.ensure_schema(auto_upgrade=True)
        assert await db.current() == db.head()
        await db.ensure_schema(auto_upgrade=False)
    finally:
        await db.dispose()


async def test_sqlite_file_created_with_wal_and_foreign_keys(tmp_path: Path):
    path = tmp_path / "deep" / "er" / "whycant.db"
    db = Database(f"sqlite:///{path}")
    try:
        await db.upgrade()
        assert path.exists()
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await db.dispose()


def test_url_normalisation(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert str(normalize_url("sqlite:///~/x/w.db")) == f"sqlite+aiosqlite:///{tmp_path}/x/w.db"
    assert str(normalize_url("sqlite:////abs/w.db")) == "sqlite+aiosqlite:////abs/w.db"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgresql+psycopg://u@h:5433/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgresql+asyncpg://u:p@h/db").password == "p"
    with pytest.raises(BadInput, match="unsupported backend"):
        normalize_url("mysql://u@h/db")


def test_migrations_ship_as_package_data():
    d = migrations_dir()
    assert (d / "env.py").is_file() and (d / "script.py.mako").is_file() and (d / "__init__.py").is_file()
    assert (d / "versions" / "__init__.py").is_file()  # makes versions/ a package: its .py files ship
    assert sorted(p.name for p in (d / "versions").glob("0*.py")) == ["0001_initial_schema.py", "0002_watches.py"]
    from setuptools import find_packages

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    pkgs = find_packages(str(REPO), include=cfg["packages"]["find"]["include"])
    assert {"migrations", "migrations.versions"} <= set(pkgs)
    assert "*.mako" in cfg["package-data"]["*"]
