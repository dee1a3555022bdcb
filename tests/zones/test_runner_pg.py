"""Runners on a real PostgreSQL: real `whycant runner` processes, the real procrastinate queue."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import time

import pytest
import yaml

from bot.cli import main
from bot.config import parse_config
from bot.service import Whycant
from bot.zones import queue
from bot.zones.fanout import ZoneClient
from tests.pg import throwaway_database
from tests.zones.runners import RunnerProc, wait_live

pytestmark = [pytest.mark.postgres]

PROBE = {"window_seconds": 0.3, "connect_attempts": 2, "connect_timeout": 0.5, "connect_interval": 0.05}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.3", 0))
        return s.getsockname()[1]


def configs(db: str, port: int) -> tuple[dict, dict]:
    bot = {
        "database": db,
        "probe": PROBE,
        "hosts": {
            "localhost": {"address": "127.0.0.1", "transport": "local", "aliases": ["bot"]},
            "far1": {"address": "127.0.0.3", "transport": "local", "zone": "far", "services": {"web": port}},
        },
        "vantages": {"farv": {"host": "far1", "zone": "far"}},
    }
    runner = {
        "database": db,
        "probe": PROBE,
        "hosts": {"far1": {"address": "127.0.0.3", "transport": "local", "services": {"web": port}}},
        "vantages": {"farv": {"host": "far1"}},
    }
    return bot, runner


@pytest.fixture
def runner_procs():
    procs: list[RunnerProc] = []
    yield procs
    for p in procs:
        p.stop()


async def test_no_runner_is_named_and_the_rest_stands(zone_db):
    port = free_port()
    bot, _ = configs(zone_db, port)
    svc = Whycant(parse_config(bot))
    try:
        out = await svc.handle(f"localhost:{port} from farv")  # target here, one vantage in zone far
    finally:
        await svc.close()
    ev = out.evidence
    by = {c.vantage: c for c in ev.connect}
    assert by["farv"].error == "no runner for zone far seen in the last 60 s"
    assert by["farv"].error_kind == "no-runner"
    assert by["bot"].count("refused") == 2  # the own zone's connect test still ran
    assert ev.target is not None and ev.target.listeners is not None  # and the target was probed
    assert out.diagnosis.partial


async def test_cross_zone_ask_runs_on_the_zone_runner(zone_db, zone_app, tmp_path, runner_procs):
    port = free_port()
    bot, rcfg = configs(zone_db, port)
    r = RunnerProc(rcfg, "far", "far-a", tmp_path).start()
    runner_procs.append(r)
    await wait_live(zone_app, ["far-a"])
    svc = Whycant(parse_config(bot))
    try:
        out = await svc.handle(f"far1:{port} from farv")
    finally:
        await svc.close()
    ev = out.evidence
    assert [c.vantage for c in ev.connect] == ["farv"]  # the bot's own vantage is left out (local target: no self)
    assert ev.connect[0].count("refused") == 2 and not ev.connect[0].error
    assert ev.target is not None and ev.target.listeners is not None and not ev.target.errors()
    assert "port-not-listening" in [f.id for f in out.diagnosis.findings]
    assert "job" in r.log() and " ok" in r.log()


async def test_runner_refuses_hosts_outside_its_inventory_and_drops_late_jobs(
    zone_db, zone_app, tmp_path, runner_procs
):
    _, rcfg = configs(zone_db, free_port())
    runner_procs.append(RunnerProc(rcfg, "far", "far-a", tmp_path).start())
    await wait_live(zone_app, ["far-a"])
    client = ZoneClient(parse_config({"database": zone_db}))
    try:
        soon = time.time() + 20
        k1 = await client.submit("far", "snapshot", {"hosts": ["db01"]}, soon)
        k2 = await client.submit("far", "snapshot", {"hosts": ["127.0.0.3"]}, soon)  # an address, not a name
        k3 = await client.submit("far", "snapshot", {"hosts": ["far1"]}, time.time() - 1)  # already late
        k4 = await client.submit("far", "snapshot", {"hosts": ["far1"]}, soon)
        got = await client.wait([k1, k2, k3, k4], soon)
    finally:
        await client.close()
    assert got[k1]["status"] == "refused" and "'db01' is not in runner far-a's inventory" in got[k1]["payload"]["error"]
    assert got[k2]["status"] == "refused"
    assert got[k3]["status"] == "expired" and "dropped" in got[k3]["payload"]["error"]
    assert got[k4]["status"] == "ok" and got[k4]["payload"][0]["host"] == "far1"
    assert got[k4]["payload"][0]["sysctls"]


async def test_a_second_answer_is_ignored(zone_app):
    assert await queue.put_result(zone_app, "k", "far", "r1", "ok", {"n": 1})
    assert not await queue.put_result(zone_app, "k", "far", "r2", "ok", {"n": 2})
    assert (await queue.get_results(zone_app, ["k"]))["k"] == {"runner": "r1", "status": "ok", "payload": {"n": 1}}


async def test_runners_command_lists_zones_runners_and_heartbeats(zone_db, zone_app, tmp_path, runner_procs):
    bot, rcfg = configs(zone_db, free_port())
    bot["hosts"]["pc9"] = {"address": "127.0.0.9", "zone": "office"}
    runner_procs.append(RunnerProc(rcfg, "far", "far-a", tmp_path).start())
    await wait_live(zone_app, ["far-a"])
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(bot))

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = await asyncio.to_thread(main, ["runners", "--json", "-c", str(path)])
    assert rc == 0
    doc = {z["zone"]: z for z in json.loads(buf.getvalue())["zones"]}
    assert set(doc) == {"far", "office"}
    far = doc["far"]["runners"]
    assert [r["name"] for r in far] == ["far-a"] and far[0]["live"] and far[0]["age_s"] < 10
    assert doc["office"]["runners"] == []


def test_runner_refuses_sqlite_with_a_clear_error(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"database": f"sqlite:///{tmp_path}/x.db"}))
    assert main(["runner", "--zone", "office", "-c", str(path)]) == 2
    assert "zone office needs PostgreSQL" in capsys.readouterr().err


async def test_db_upgrade_applies_the_zone_queue_only_for_a_config_with_zones(tmp_path, capfd):
    async with throwaway_database("whycant_zones") as url:
        plain = tmp_path / "plain.yaml"
        plain.write_text(yaml.safe_dump({"database": url}))
        zoned = tmp_path / "zoned.yaml"
        zoned.write_text(
            yaml.safe_dump({"database": url, "hosts": {"pc1": {"address": "127.0.0.9", "zone": "office"}}})
        )
        assert await asyncio.to_thread(main, ["db", "upgrade", "-c", str(plain)]) == 0
        assert "zone queue" not in capfd.readouterr().out
        # a runner refuses to start on a database without the queue, and says what to do
        assert await asyncio.to_thread(main, ["runner", "--zone", "office", "-c", str(plain)]) == 2
        err = capfd.readouterr().err
        assert "no zone queue (procrastinate_jobs, whycant_zone_runners, whycant_zone_results missing)" in err
        assert "whycant db upgrade" in err
        assert await asyncio.to_thread(main, ["db", "upgrade", "-c", str(zoned)]) == 0
        assert "zone queue: procrastinate schema, zone tables in place" in capfd.readouterr().out
        assert await asyncio.to_thread(main, ["db", "upgrade", "-c", str(zoned)]) == 0  # idempotent
        assert "zone queue: zone tables in place" in capfd.readouterr().out
