"""Open storage without ever holding up an answer (issue 11: answer first, store reliably).

``open_store_bounded(config)`` opens, migrates and recovers the database within ``database_wait_seconds``;
when it cannot (down, locked by another process, dropped), the bot runs without it: the caller gets the
reason, diagnoses are still answered and their incidents go to the spool (``bot/storage/spool.py``).
When it can, whatever an earlier run spooled is written first (the CLI's "next run").
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from bot.storage.spool import Spool
from bot.storage.store import Store, database_trouble, open_store

log = logging.getLogger("whycant.storage")


def spool_for(config: Any) -> Spool:
    """The configured spool directory (relative paths against the config file's directory)."""
    path = Path(config.spool_dir).expanduser()
    return Spool(path if path.is_absolute() else config.base_dir() / path)


async def open_store_bounded(config: Any, spool: Spool) -> tuple[Store | None, str | None]:
    """``(store, None)``, or ``(None, reason)`` after at most ``database_wait_seconds`` (plus SQLite's
    bounded busy wait of an interrupted call)."""
    wait = float(config.database_wait_seconds)
    try:
        store = await asyncio.wait_for(open_store(config, spool=spool, wait=wait), wait)
    except Exception as e:  # noqa: BLE001 - no database is never a reason to give no answer
        reason = database_trouble(e, wait)
        log.warning("running without the database (%s); incidents are spooled to %s", reason, spool.dir)
        return None, reason
    flushed = await store.flush_spool()
    if flushed.written or flushed.left or flushed.bad:
        log.warning(
            "spool %s: %d incident(s) written, %d left, %d unreadable",
            spool.dir,
            len(flushed.written),
            flushed.left,
            len(flushed.bad),
        )
    return store, None


async def flush_until(service: Any, stop: asyncio.Event, interval: float = 30.0) -> None:
    """``serve``'s background writer: every *interval* seconds until *stop*, reopen a database that was
    unavailable at start and write what the spool holds (``service.reconnect_and_flush()``)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return
        except TimeoutError:
            pass
        try:
            await service.reconnect_and_flush()
        except Exception:
            log.exception("spool flush failed")
