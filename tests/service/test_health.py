"""Readiness checks, each with its reason: database, Slack connection, scheduler (in-process)."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from bot.health import Readiness


class _DB:
    def __init__(self, error: Exception | None = None, hang: bool = False):
        self.error, self.hang = error, hang

    async def ping(self) -> None:
        if self.hang:
            await asyncio.sleep(60)
        if self.error:
            raise self.error


class _Store:
    def __init__(self, db):
        self.db = db


async def test_all_ok():
    ready, checks = await Readiness(store=_Store(_DB()), slack=lambda: None).check()
    assert ready and checks == {"database": "ok", "slack": "ok", "scheduler": "ok (no reports configured)"}
    assert REGISTRY.get_sample_value("whycant_ready") == 1


async def test_each_reason():
    async def boom():
        raise RuntimeError("cron table broken")

    task = asyncio.ensure_future(boom())
    await asyncio.sleep(0)
    r = Readiness(
        store=_Store(_DB(OSError("Connection refused"))), slack=lambda: "socket mode connecting", scheduler=task
    )
    ready, checks = await r.check()
    assert not ready
    assert checks["database"] == "database unreachable: OSError: Connection refused"
    assert checks["slack"] == "socket mode connecting"
    assert checks["scheduler"] == "scheduler stopped: RuntimeError: cron table broken"
    assert REGISTRY.get_sample_value("whycant_ready") == 0


async def test_a_hanging_database_is_not_ready_within_the_timeout():
    r = Readiness(store=_Store(_DB(hang=True)), timeout=0.2)
    ready, checks = await asyncio.wait_for(r.check(), 2)
    assert not ready and checks["database"] == "database unreachable: no answer within 0.2s"


async def test_running_scheduler_and_http_mode():
    task = asyncio.ensure_future(asyncio.sleep(10))
    try:
        ready, checks = await Readiness(scheduler=task).check()
        assert ready and checks["scheduler"] == "ok" and checks["slack"].startswith("ok (HTTP mode")
        assert checks["database"] == "ok (no database configured)"
    finally:
        task.cancel()
