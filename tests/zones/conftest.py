"""Fixtures for zone tests: a throwaway PostgreSQL database upgraded like `whycant db upgrade`."""

from __future__ import annotations

import pytest

from tests.pg import throwaway_database


@pytest.fixture
async def zone_db():
    from bot.storage.db import Database
    from bot.zones.schema import upgrade_zone_schema

    async with throwaway_database("whycant_zones") as url:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()
        await upgrade_zone_schema(url)
        yield url


@pytest.fixture
async def zone_app(zone_db):
    from bot.zones import queue

    app = queue.make_app(zone_db, application_name="whycant-test")
    async with app.open_async():
        yield app
