"""``ssh.pool_max`` against real sshd: the pool never holds more connections than the cap while idle ones
can be closed, the least recently used idle one goes first, and a connection in use (or a jump host that a
pooled connection goes through) is never closed to make room."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from bot.config import SSHConfig, parse_config
from bot.inventory import Inventory
from probes.transports.ssh import SSHTransport

pytestmark = pytest.mark.lab


class PoolSize:
    """Samples the pool's size on every event-loop turn while it runs; ``most`` is the largest seen."""

    def __init__(self, t: SSHTransport):
        self.t, self.most = t, 0
        self.task: asyncio.Task | None = None

    async def _watch(self) -> None:
        while True:
            self.most = max(self.most, self.t.pool.size)
            await asyncio.sleep(0)

    async def __aenter__(self) -> PoolSize:
        self.task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_pool_stays_under_the_cap_closing_the_least_recently_used(lab, lab_hosts):
    names = sorted(lab_hosts)
    assert len(names) >= 3
    t = SSHTransport(SSHConfig(**{**lab.whycant_config()["ssh"], "pool_max": 2}).settings())
    try:
        async with PoolSize(t) as size:
            for _ in range(3):
                for n in names:
                    assert (await t.run(lab_hosts[n], ["true"], timeout=5)).exit_status == 0
                    assert t.pool.size <= 2
            # the least recently used goes: touch names[-2], then a new connection to names[0] closes names[-1]
            last, keep = t.pooled_connection(lab_hosts[names[-1]]), t.pooled_connection(lab_hosts[names[-2]])
            await t.run(lab_hosts[names[-2]], ["true"], timeout=5)
            await t.run(lab_hosts[names[0]], ["true"], timeout=5)
        assert size.most == 2
        assert last is not None and last.is_closed() and keep is not None and not keep.is_closed()
        assert t.pool.cap_evictions >= 3 * len(names) - 2
    finally:
        await t.close()


async def test_a_connection_in_use_is_never_closed_for_room(lab, lab_hosts):
    names = sorted(lab_hosts)
    busy, others = lab_hosts[names[0]], [lab_hosts[n] for n in names[1:]]
    t = SSHTransport(SSHConfig(**{**lab.whycant_config()["ssh"], "pool_max": 1}).settings())
    try:
        long = asyncio.create_task(t.run(busy, ["sh", "-c", "sleep 1.5; echo done"], timeout=10))
        while t.pooled_connection(busy) is None:
            await asyncio.sleep(0.01)
        conn = t.pooled_connection(busy)
        async with PoolSize(t) as size:
            for _ in range(2):
                for h in others:
                    assert (await t.run(h, ["true"], timeout=5)).exit_status == 0
                    assert t.pool.size == 1 or not long.done()  # over the cap only while the busy one runs
            r = await long
            await asyncio.sleep(0)
        assert r.stdout == "done\n" and r.exit_status == 0
        assert conn is not None and t.pooled_connection(busy) is conn and not conn.is_closed()
        assert size.most == 2  # the busy one plus the one in use next to it, never more
        assert t.pool.size == 1  # back under the cap once released
    finally:
        await t.close()


async def test_jump_host_in_use_by_a_pooled_connection_stays(clean_fleet):
    cfg = parse_config(clean_fleet.whycant_config(), "fleet")
    inv = Inventory.from_config(cfg).hosts
    t = SSHTransport(dataclasses.replace(cfg.ssh.settings(), pool_max=2), hosts=inv)
    try:
        long = asyncio.create_task(t.run(inv["db07"], ["sh", "-c", "sleep 1; echo done"], timeout=10))
        while t.pooled_connection(inv["db07"]) is None:
            await asyncio.sleep(0.01)
        jump = t.pool.get(t.route(inv["db07"]).key(0))
        assert jump is not None and jump.dependents == 1 and t.pool.size == 2
        for name in ("nosftp01", "bastion", "nosftp01"):
            assert (await t.run(inv[name], ["true"], timeout=5)).exit_status == 0
        assert (await long).stdout == "done\n"
        assert t.pool.get(t.route(inv["db07"]).key(0)) is jump and not jump.conn.is_closed()
        assert t.pool.size <= 2
        # db07 idle now: a new connection closes it (the least recently used) and the bastion stays for db08
        assert (await t.run(inv["db08"], ["true"], timeout=5)).exit_status == 0
        assert t.pool.size <= 2 and jump.alive and jump.dependents == 1 and t.pooled_connection(inv["db07"]) is None
    finally:
        await t.close()
