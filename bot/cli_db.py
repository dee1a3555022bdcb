"""`whycant db upgrade|downgrade|current`: Alembic migrations of the configured database (docs/architecture.md §Storage)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bot.cli_common import ConfigOpt
from bot.config import load_config
from bot.zones.plan import zones_in_config

app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")


def _db(config: str | None):  # noqa: ANN202
    from bot.storage.db import Database

    return Database(load_config(config).database)


async def _with(db, coro_fn):  # noqa: ANN001, ANN202
    try:
        return await coro_fn(db)
    finally:
        await db.dispose()


def _inventory_zones(cfg) -> frozenset[str]:  # noqa: ANN001
    """The zones Ansible hosts name (``whycant_zone``): a zone may be named there only."""
    if not cfg.inventory:
        return frozenset()
    from bot.inventory import Inventory

    return Inventory.from_config(cfg).zones


@app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head", config: ConfigOpt = None
) -> None:
    """Apply migrations (to the newest revision by default)."""
    db = _db(config)
    before = asyncio.run(_with(_db(config), lambda d: d.current()))
    after = asyncio.run(_with(db, lambda d: d.upgrade(revision)))
    typer.echo(
        f"{db.display_url}: {before or 'empty'} -> {after or 'empty'}"
        if before != after
        else f"{db.display_url}: already at {after}"
    )
    cfg = load_config(config)
    if db.is_postgres and zones_in_config(cfg, _inventory_zones(cfg)):  # the zone job queue (docs/zones.md)
        from bot.zones.schema import upgrade_zone_schema

        typer.echo(f"{db.display_url}: {asyncio.run(upgrade_zone_schema(cfg.database))}")


@app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (`base` drops everything).")],
    config: ConfigOpt = None,
) -> None:
    """Revert migrations down to REVISION."""
    db = _db(config)
    after = asyncio.run(_with(db, lambda d: d.downgrade(revision)))
    typer.echo(f"{db.display_url}: now at {after or 'base (empty)'}")


@app.command("current")
def current(config: ConfigOpt = None) -> None:
    """Show the database's revision and the newest one available."""
    db = _db(config)
    cur = asyncio.run(_with(db, lambda d: d.current()))
    head = db.head()
    typer.echo(
        f"{db.display_url}: {cur or 'empty'} (head {head}{', up to date' if cur == head else ', run `whycant db upgrade`'})"
    )
