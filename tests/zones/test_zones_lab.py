"""Two zones as namespace networks: the bot cannot reach zone B; zone B's runners (inside it) can,
and reach PostgreSQL through a relay. Real sshd hosts, real kernel failure, real runners."""
from __future__ import annotations

import asyncio

import pytest

from bot.config import parse_config
from bot.drift import run_drift
from bot.service import Whycant
from tests.zones.runners import RunnerProc, wait_live
from tests.zones.zonelab import ZoneB, unreachable

pytestmark = [pytest.mark.lab, pytest.mark.postgres, pytest.mark.slow]

PORT = 5432


@pytest.fixture
def zone_b(lab):  # `lab` (zone A, the bot's own) first: its skip covers non-root machines
    with ZoneB({"db02": 10, "vb": 20, "sl": 30}) as zb:
        yield zb


def configs(lab, zb: ZoneB, db: str) -> tuple[dict, dict]:
    b = zb.lab
    bot = lab.whycant_config()
    bot["database"] = db
    bot["zones"] = {"job_timeout": 60}
    for name in ("db02", "vb", "sl"):
        bot["hosts"][name] = {"address": b.address(name), "zone": "b", "groups": ["zoneb"]}
    bot["hosts"]["db02"]["services"] = {"postgres": PORT}
    bot["vantages"]["zoneb"] = {"host": "vb", "zone": "b", "note": "zone B LAN (lab)"}
    runner = zb.runner_config(db)
    runner["hosts"]["db02"]["services"] = {"postgres": PORT}
    runner["vantages"] = {"zoneb": {"host": "vb", "note": "zone B LAN (lab)"}}
    runner["ssh"].update(connect_timeout=4, command_timeout=15)
    return bot, runner


@pytest.fixture
def procs():
    out: list[RunnerProc] = []
    yield out
    for p in out:
        p.stop()


async def test_ask_about_a_zone_b_target_from_a_zone_b_vantage(lab, zone_b, zone_db, zone_app, tmp_path, procs):
    assert unreachable(zone_b.lab.address("db02"))  # the bot really cannot reach zone B
    bot, rcfg = configs(lab, zone_b, zone_db)
    procs.append(RunnerProc(rcfg, "b", "b-1", tmp_path, netns=zone_b.runner_ns).start())
    await wait_live(zone_app, ["b-1"])
    zone_b.lab.accept_queue_overflow("db02", PORT, backlog=2)
    svc = Whycant(parse_config(bot, source="lab"))
    try:
        out = await svc.handle(f"why can't I connect to db02:{PORT} from zoneb")
    finally:
        await svc.close()
    ev = out.evidence
    assert ev.target is not None and not ev.target.errors(), ev.probe_errors()
    by = {c.vantage: c for c in ev.connect}
    assert "bot" not in by and by["zoneb"].count("timeout") >= 1, ev.connect
    assert out.diagnosis.findings[0].id == "listen-queue-overflow", [f.id for f in out.diagnosis.findings]
    assert "job" in procs[0].log()


async def test_drift_covers_both_zones_with_a_runner_killed_mid_sweep(lab, zone_b, zone_db, zone_app, tmp_path,
                                                                     procs):
    bot, rcfg = configs(lab, zone_b, zone_db)
    bot["zones"]["sweep_chunk"] = 1
    r1 = RunnerProc(rcfg, "b", "b-1", tmp_path, netns=zone_b.runner_ns).start()
    r2 = RunnerProc(rcfg, "b", "b-2", tmp_path, netns=zone_b.runner_ns).start()
    procs += [r1, r2]
    await wait_live(zone_app, ["b-1", "b-2"])
    zone_b.lab.nft_drop_from("sl", "runner", 22)  # sl's SSH hangs: its chunk is in flight long enough to kill
    svc = Whycant(parse_config(bot, source="lab"))
    try:
        sweep = asyncio.create_task(run_drift(svc, ["all"]))
        victim = None
        for _ in range(150):
            victim = next((r for r in (r1, r2) if "started: sl" in r.log()), None)
            if victim is not None:
                break
            await asyncio.sleep(0.1)
        assert victim is not None, r1.log() + r2.log()
        victim.kill()
        survivor = r2 if victim is r1 else r1
        report = await asyncio.wait_for(sweep, 90)
    finally:
        await svc.close()
    names = set(lab.whycant_config()["hosts"]) | {"db02", "vb", "sl"}
    assert report["hosts"] == len(names)
    errors = {e["host"]: e for e in report["errors"]}
    assert set(errors) == {"sl"}, errors  # zone A by the bot, db02 and vb by zone B's runners
    assert "no answer" not in errors["sl"]["error"]  # sl was probed (and timed out) by the survivor
    assert "started: sl" in survivor.log() and "queued again" in survivor.log()
