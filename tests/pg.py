"""Throwaway PostgreSQL databases for tests (``$WHYCANT_PG_URL`` names the server)."""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest

PG_ADMIN_URL = os.environ.get("WHYCANT_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PG_SERVER = PG_ADMIN_URL.rsplit("/", 1)[0] + "/"


async def admin_connection():
    """An asyncpg connection to the admin database, or a clear skip when PostgreSQL is down."""
    import asyncpg

    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        return await asyncpg.connect(dsn, timeout=3)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"PostgreSQL at {PG_SERVER} is not reachable: {type(e).__name__}: {e}")


@asynccontextmanager
async def throwaway_database(prefix: str = "whycant_test") -> AsyncIterator[str]:
    """Create a database with a random name, yield its SQLAlchemy URL, drop it afterwards."""
    admin = await admin_connection()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
