"""`whycant db upgrade` on PostgreSQL: procrastinate's schema (its own SQL, applied once) and the zone tables."""

from __future__ import annotations

from bot.zones import queue


async def upgrade_zone_schema(database_url: str) -> str:
    """Apply what is missing; return one line saying what was done."""
    app = queue.make_app(database_url, application_name="whycant-db-upgrade")
    async with app.open_async():
        done = await queue.apply_schema(app)
    return "zone queue: " + ", ".join(done) + " in place"
