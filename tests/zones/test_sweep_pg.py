"""Drift sweeps across zones on real runners: chunks, a runner killed mid-job, a lost database connection."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from bot.config import parse_config
from bot.drift import run_drift
from bot.service import Whycant
from bot.zones.fanout import ZoneClient
from tests.pg import admin_connection
from tests.zones.runners import RunnerProc, wait_live

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROBE = {"window_seconds": 0.3, "connect_attempts": 2, "connect_timeout": 0.5}
FAR = {f"far{i}": {"address": f"127.0.0.{10 + i}", "transport": "local"} for i in range(1, 4)}


class SilentServer:
    """Accepts TCP connections and never says a word: an SSH connect to it waits for the banner."""

    def __init__(self, address: str = "127.0.0.5", lifetime: float = 60.0):
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop_at = time.monotonic() + lifetime
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while time.monotonic() < self.stop_at:
            try:
                self.held.append(self.sock.accept()[0])
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self.stop_at = 0
        self.thread.join(2)
        for s in self.held:
            s.close()
        self.sock.close()


def bot_config(db: str, extra: dict | None = None, chunk: int = 1) -> dict:
    hosts = {
        "localhost": {"address": "127.0.0.1", "transport": "local", "aliases": ["bot"]},
        **{n: {**h, "zone": "far"} for n, h in FAR.items()},
        **(extra or {}),
    }
    return {"database": db, "probe": PROBE, "hosts": hosts, "zones": {"sweep_chunk": chunk, "job_timeout": 60}}


def runner_config(db: str, tmp_path, extra: dict | None = None) -> dict:
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    return {
        "database": db,
        "probe": PROBE,
        "hosts": {**FAR, **(extra or {})},
        "ssh": {"connect_timeout": 4, "command_timeout": 4, "known_hosts": str(kh)},
    }


@pytest.fixture
def procs():
    out: list[RunnerProc] = []
    yield out
    for p in out:
        p.stop()


async def test_sweep_covers_both_zones_and_names_a_zone_without_runner(zone_db, zone_app, tmp_path, procs):
    cfg = bot_config(zone_db, {"gone1": {"address": "127.0.0.30", "transport": "local", "zone": "gone"}})
    procs.append(RunnerProc(runner_config(zone_db, tmp_path), "far", "far-a", tmp_path).start())
    await wait_live(zone_app, ["far-a"])
    svc = Whycant(parse_config(cfg))
    try:
        report = await run_drift(svc, ["all"])
    finally:
        await svc.close()
    assert report["hosts"] == 5
    errors = {e["host"]: e for e in report["errors"]}
    assert set(errors) == {"gone1"}, errors  # localhost here, far1..3 by the runner: all collected
    assert errors["gone1"]["error"] == "no runner for zone gone seen in the last 60 s"
    assert "no runner for zone gone seen in the last 60 s" in report["notes"]
    log = procs[0].log()
    assert all(f"started: far{i}" in log for i in (1, 2, 3))  # one chunk per host (sweep_chunk 1)


async def test_runner_killed_mid_job_the_other_runner_finishes_it(zone_db, zone_app, tmp_path, procs):
    silent = SilentServer()
    try:
        slow = {"slow1": {"address": "127.0.0.5", "port": silent.port, "user": "nobody"}}
        rcfg = runner_config(zone_db, tmp_path, slow)
        a = RunnerProc(rcfg, "far", "far-a", tmp_path).start()
        b = RunnerProc(rcfg, "far", "far-b", tmp_path).start()
        procs += [a, b]
        await wait_live(zone_app, ["far-a", "far-b"])
        svc = Whycant(parse_config(bot_config(zone_db, {n: {**h, "zone": "far"} for n, h in slow.items()})))
        try:
            sweep = asyncio.create_task(run_drift(svc, ["all"]))
            victim = None
            for _ in range(100):  # up to 10 s for a runner to take the slow chunk
                victim = next((r for r in (a, b) if "started: slow1" in r.log()), None)
                if victim is not None:
                    break
                await asyncio.sleep(0.1)
            assert victim is not None, a.log() + b.log()
            victim.kill()
            survivor = b if victim is a else a
            report = await asyncio.wait_for(sweep, 60)
        finally:
            await svc.close()
    finally:
        silent.close()
    assert report["hosts"] == 5
    errors = {e["host"]: e for e in report["errors"]}
    assert set(errors) == {"slow1"}  # every other host collected, each once
    assert "late" not in (errors["slow1"]["kind"] or "") and "no answer" not in errors["slow1"]["error"]
    assert "started: slow1" in survivor.log()  # the retry ran on the other runner of the zone
    assert "queued again" in survivor.log()
    assert not [n for n in report.get("notes", []) if "chunk" in n]  # no late chunk


async def test_runner_reconnects_after_losing_the_database(zone_db, zone_app, tmp_path, procs):
    procs.append(RunnerProc(runner_config(zone_db, tmp_path), "far", "far-a", tmp_path).start())
    await wait_live(zone_app, ["far-a"])
    admin = await admin_connection()
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'whycant-runner far-a%' AND datname = $1",
            zone_db.rsplit("/", 1)[1],
        )
    finally:
        await admin.close()
    assert killed >= 1
    client = ZoneClient(parse_config({"database": zone_db}))
    try:
        deadline = time.time() + 40
        key = await client.submit("far", "snapshot", {"hosts": ["far1"]}, deadline)
        got = await client.wait([key], deadline)
    finally:
        await client.close()
    assert got[key]["status"] == "ok", procs[0].log()
    assert procs[0].proc.poll() is None  # still the same process


async def test_a_chunk_past_its_deadline_is_named_late_and_the_report_still_comes(zone_db, zone_app, tmp_path, procs):
    silent = SilentServer()
    try:
        slow = {"slow1": {"address": "127.0.0.5", "port": silent.port, "user": "nobody"}}
        procs.append(RunnerProc(runner_config(zone_db, tmp_path, slow), "far", "far-a", tmp_path).start())
        await wait_live(zone_app, ["far-a"])
        cfg = bot_config(zone_db, {n: {**h, "zone": "far"} for n, h in slow.items()}, chunk=3)
        cfg["zones"]["job_timeout"] = 2  # slow1's SSH connect waits 4 s for a banner
        svc = Whycant(parse_config(cfg))
        try:
            report = await run_drift(svc, ["all"])
            log_then = procs[0].log()
        finally:
            await svc.close()
    finally:
        silent.close()
    # assembled at the deadline, while the slow chunk was still running on the runner
    assert "started: slow1" in log_then and log_then.count("(drift) ok") == 1
    errors = {e["host"]: e for e in report["errors"]}
    assert set(errors) == {"slow1"}  # far1..far3 (chunk 1/2) arrived in time
    assert errors["slow1"]["kind"] == "late"
    assert "zone far chunk 2/2: no answer within 2 s (late)" in report["notes"]
