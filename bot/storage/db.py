"""Database engine, sessions and schema upgrades (docs/architecture.md §Storage).

``Database(url)`` accepts the URLs of the configuration (``database:``):

* ``sqlite:///path`` (``~`` expanded, parent directory created) → ``sqlite+aiosqlite``,
  WAL mode, ``busy_timeout``, foreign keys on, writes begin with ``BEGIN IMMEDIATE``
  and are serialised in-process (no "database is locked" between our own tasks);
* ``postgresql://``, ``postgres://``, ``postgresql+asyncpg://`` (and ``+psycopg``/``+psycopg2``
  spellings) → ``postgresql+asyncpg``.

``write(fn)`` / ``read(fn)`` run ``fn(session)`` in one transaction; writes are retried
on lock contention (SQLite busy, PostgreSQL deadlock / serialization failure).
Connection failures raise ``DatabaseUnavailable`` naming the URL without its password.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import StaticPool

from bot.file_modes import create_private
from probes.errors import BadInput, WhycantError

log = logging.getLogger("whycant.storage")
T = TypeVar("T")

# pg_advisory_xact_lock key taken while migrating (several replicas may start at once)
_MIGRATION_LOCK_KEY = 0x77687963616E74  # "whycant"


class DatabaseUnavailable(BadInput):
    """The database cannot be reached or opened (exit 2 from the CLI, one line, URL without password)."""

    def __init__(self, url: str, reason: str):
        self.url, self.reason = url, reason
        super().__init__(f"database unavailable: {url}: {reason}")


class DatabaseBusy(WhycantError):
    """A write kept hitting locks (SQLite busy, PostgreSQL deadlock) after bounded retries."""


class SchemaOutOfDate(BadInput):
    """The schema is not at the head revision and automatic upgrades are off."""


def is_lock_error(e: BaseException) -> bool:
    if isinstance(e, DBAPIError):
        orig = e.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code in ("40001", "40P01", "55P03"):
            return True
        msg = str(orig).lower()
        return "database is locked" in msg or "database table is locked" in msg or "sqlite_busy" in msg
    return False


def normalize_url(url: str) -> URL:
    """Map a configured database URL onto its async driver."""
    raw = url.strip()
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        u = make_url(raw)
    except ArgumentError:
        raise BadInput(f"{url!r} is not a database URL (sqlite:///path or postgresql+asyncpg://...)") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        db = u.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            db = str(Path(db).expanduser())
        return u.set(drivername="sqlite+aiosqlite", database=db)
    if backend == "postgresql":
        return u.set(drivername="postgresql+asyncpg")
    raise BadInput(
        f"database {u.render_as_string(hide_password=True)!r}: unsupported backend {backend!r} "
        "(use sqlite:///path or postgresql+asyncpg://...)"
    )


class Database:
    """An async engine plus the conventions above. Create inside the event loop that uses it."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 5000,
        connect_timeout: float = 5.0,
        write_retries: int = 8,
        echo: bool = False,
        pool_size: int = 5,
        max_overflow: int = 10,
    ):
        self.url = normalize_url(url)
        self.display_url = self.url.render_as_string(hide_password=True)
        self.dialect = self.url.get_backend_name()
        self.busy_timeout_ms = busy_timeout_ms
        self.write_retries = write_retries
        self._write_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        kw: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            db = self.url.database or ""
            if db == ":memory:" or not db:
                kw["poolclass"] = StaticPool
            else:
                try:
                    Path(db).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    create_private(Path(db))  # 0600 from the start (SQLite's -wal/-shm files follow its mode)
                except OSError as e:
                    raise DatabaseUnavailable(
                        self.display_url, f"cannot create {Path(db).parent}: {e.strerror}"
                    ) from None
            kw["connect_args"] = {"timeout": busy_timeout_ms / 1000}
        else:
            kw.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                connect_args={"timeout": connect_timeout},
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kw)
        if self.is_sqlite:
            self._install_sqlite_hooks()
        self._write_engine = self.engine.execution_options(whycant_write=True) if self.is_sqlite else self.engine

    # -- engine set-up -------------------------------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def _install_sqlite_hooks(self) -> None:
        busy = int(self.busy_timeout_ms)
        in_memory = (self.url.database or ":memory:") == ":memory:"

        @event.listens_for(self.engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {busy}")
            cur.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(self.engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no lock upgrade deadlock between writers
            write = conn.get_execution_options().get("whycant_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._lock_loop is not loop:
            self._write_lock, self._lock_loop = asyncio.Lock(), loop
        return self._write_lock

    # -- sessions ------------------------------------------------------------------------------
    @asynccontextmanager
    async def _session(self, write: bool) -> AsyncIterator[AsyncSession]:
        engine = self._write_engine if write else self.engine
        try:
            conn = await engine.connect()
        except (OSError, asyncio.TimeoutError, InterfaceError, OperationalError) as e:
            if is_lock_error(e):
                raise
            raise self.unavailable(e) from e
        except DBAPIError as e:  # e.g. database does not exist, too many connections
            raise self.unavailable(e) from e
        try:
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                async with session.begin():
                    yield session
        finally:
            await conn.close()

    def unavailable(self, e: BaseException) -> DatabaseUnavailable:
        orig = getattr(e, "orig", None) or e
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return DatabaseUnavailable(self.display_url, reason)

    @asynccontextmanager
    async def session(self, write: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction (no retries); prefer ``read``/``write``."""
        if write and self.is_sqlite:
            async with self._lock():
                async with self._session(True) as s:
                    yield s
        else:
            async with self._session(write) as s:
                yield s

    async def read(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._session(False) as s:
            return await fn(s)

    async def write(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``fn(session)`` in a write transaction, retrying (bounded) on lock contention."""
        delay = 0.02
        for attempt in range(self.write_retries + 1):
            try:
                if self.is_sqlite:
                    async with self._lock():
                        async with self._session(True) as s:
                            return await fn(s)
                async with self._session(True) as s:
                    return await fn(s)
            except DBAPIError as e:
                if not is_lock_error(e):
                    raise
                if attempt >= self.write_retries:
                    raise DatabaseBusy(f"database busy: {self.display_url}: {str(e.orig).splitlines()[0]}") from e
                log.info("database busy (%s), retrying write in %.2fs", str(e.orig).splitlines()[0], delay)
                await asyncio.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    async def ping(self) -> None:
        async with self._session(False) as s:
            await s.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.dispose()

    # -- migrations (Alembic, run by bot.storage.schema) ----------------------------------------
    async def run_migration(self, fn: Callable[[Any], T], write: bool = True) -> T:
        """Run ``fn(sync_connection)`` in one transaction, serialised with other migrations (PostgreSQL
        advisory lock; SQLite in-process lock); connection failures become ``DatabaseUnavailable``."""

        async def run() -> T:
            try:
                conn_cm = (self._write_engine if write else self.engine).begin()
                async with conn_cm as conn:
                    if self.is_postgres and write:
                        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                    return await conn.run_sync(fn)
            except (OSError, asyncio.TimeoutError) as e:
                raise self.unavailable(e) from e
            except (InterfaceError, OperationalError) as e:
                if is_lock_error(e):
                    raise
                raise self.unavailable(e) from e

        if self.is_sqlite and write:
            async with self._lock():
                return await run()
        return await run()

    async def upgrade(self, revision: str = "head") -> str | None:
        """Apply migrations up to *revision*; returns the revision the database is at afterwards."""
        return await _schema().upgrade(self, revision)

    async def downgrade(self, revision: str) -> str | None:
        return await _schema().downgrade(self, revision)

    async def current(self) -> str | None:
        return await _schema().current(self)

    def head(self) -> str | None:
        return _schema().head(self)

    async def ensure_schema(self, auto_upgrade: bool = True) -> None:
        """Bring the schema to head (``auto_upgrade_db``), or check it is there."""
        if auto_upgrade:
            if await self.current() != self.head():
                await self.upgrade()
            return
        cur = await self.current()
        if cur != self.head():
            raise SchemaOutOfDate(
                f"database {self.display_url} is at revision {cur or 'none'}, "
                f"not {self.head()}: run `whycant db upgrade`"
            )


def _schema() -> ModuleType:
    """``bot.storage.schema``, which imports Alembic: `whycant --help` imports this module (via the drift
    store) and Alembic would add ~80 ms to its ~1.1 s (measured: 1.07-1.14 s vs 1.16-1.19 s, best 3 of 6)."""
    from bot.storage import schema  # noqa: PLC0415 - lazy on purpose, see above

    return schema
