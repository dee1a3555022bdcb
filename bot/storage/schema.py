"""Schema migrations with Alembic (``migrations/``): upgrade, downgrade, current revision, head.

``bot.storage.db.Database`` exposes these as methods (``db.upgrade()``, ``db.ensure_schema()``) and imports
this module only when one is called: Alembic is not needed to start `whycant --help`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

if TYPE_CHECKING:  # db.py imports this module (lazily): the type only, no import cycle
    from bot.storage.db import Database


def migrations_dir() -> Path:
    """The Alembic script directory, found as package data (works after a non-editable install)."""
    return Path(str(resources.files("migrations")))


def alembic_config(db: Database, connection: Any = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Apply migrations up to *revision*; the revision the database is at afterwards."""
    await db.run_migration(lambda conn: command.upgrade(alembic_config(db, conn), revision))
    return await current(db)


async def downgrade(db: Database, revision: str) -> str | None:
    await db.run_migration(lambda conn: command.downgrade(alembic_config(db, conn), revision))
    return await current(db)


async def current(db: Database) -> str | None:
    def get(conn: Any) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    return await db.run_migration(get, write=False)


def head(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
