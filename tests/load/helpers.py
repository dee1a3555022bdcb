"""Shared by the load tests: a counting TCP listener on loopback and a real Whycant on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import parse_config
from bot.storage.models import Asker, EvidenceRow, Incident


@dataclass
class CountingListener:
    """A real TCP server on 127.0.0.1 that counts the connections it accepts (each one a SYN that arrived)."""

    server: asyncio.AbstractServer | None = None
    port: int = 0
    accepted: int = 0
    peers: list[Any] = field(default_factory=list)

    async def start(self) -> CountingListener:
        async def on_conn(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.accepted += 1
            w.close()

        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def local_config(tmp_path: Path, port: int, **limits: Any):
    """localhost on the local transport (no SSH), SQLite in tmp_path, a short window, 3 attempts."""
    data: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path}/whycant.db",
        "hosts": {
            "localhost": {"address": "127.0.0.1", "transport": "local", "aliases": ["bot"], "services": {"web": port}}
        },
        "probe": {"window_seconds": 0.3, "connect_attempts": 3, "connect_timeout": 1, "connect_interval": 0.01},
    }
    if limits:
        data["limits"] = limits
    return parse_config(data, source=str(tmp_path / "whycant.yaml"))


async def db_counts(svc: Any) -> dict[str, int]:
    """Rows in the database: incidents, evidence rows, askers, and the asked_count of the newest incident."""
    db = svc.store.db
    async with db.engine.connect() as c:
        incidents = (await c.execute(select(func.count()).select_from(Incident))).scalar_one()
        evidence = (await c.execute(select(func.count()).select_from(EvidenceRow))).scalar_one()
        askers = (await c.execute(select(func.count()).select_from(Asker))).scalar_one()
        asked = (await c.execute(select(Incident.asked_count).order_by(Incident.id.desc()).limit(1))).scalar()
    return {"incidents": incidents, "evidence": evidence, "askers": askers, "asked_count": asked or 0}


def count_collections(svc: Any) -> list[int]:
    """Wrap ``svc.collector.collect`` to count evidence collections (works on any version of the service)."""
    calls = [0]
    orig = svc.collector.collect

    async def counted(*a: Any, **kw: Any) -> Any:
        calls[0] += 1
        return await orig(*a, **kw)

    svc.collector.collect = counted
    return calls
