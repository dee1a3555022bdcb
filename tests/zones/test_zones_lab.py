"""Two zones as namespace networks: the bot cannot reach zone B; zone B's runners (inside it) can,
and reach PostgreSQL through a relay. Real sshd hosts, real kernel failure, real runners."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

from bot.config import parse_config
from bot.drift import run_drift
from bot.service import Whycant
from bot.watch.manager import WatchManager, settings_for
from tests.watch.test_resume import Collect
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


async def test_drift_covers_both_zones_with_a_runner_killed_mid_sweep(lab, zone_b, zone_db, zone_app, tmp_path, procs):
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


WATCH_PORT = 6202


async def watch_events(
    svc: Whycant,
    text: str,
    seconds: float,
    *,
    until: str | None = None,
    fault: tuple[float, Callable[[], None]] | None = None,
) -> tuple[list[dict], Any]:
    """Run one watch (1 s interval) for at most *seconds* (or until the first *until* event), switching
    *fault* (seconds after the start, what) on meanwhile; its events and its WatchRunner."""
    sink = Collect()
    mgr = WatchManager(svc, lambda _rec: sink, replica="zones-lab", settings=settings_for(svc.config))
    _rec, _joined, run = await mgr.watch(f"{text} every 1s for 60s", who="lab", on_stop="stopped")
    assert run is not None
    try:
        start = time.monotonic()
        while time.monotonic() < start + seconds and not (until and any(e["event"] == until for e in sink.events)):
            if fault is not None and time.monotonic() >= start + fault[0]:
                fault[1]()
                fault = None
            await asyncio.sleep(0.1)
    finally:
        run.stop.set()
        await asyncio.wait_for(run.task, 60)
    return sink.events, run.runner


async def test_watch_across_zones_episode_and_missing_runner(lab, zone_b, zone_db, zone_app, tmp_path, procs):
    """Light rounds of a zone-B target from a zone-B vantage run on zone B's runner (one job per round): an
    nftables drop in zone B opens an episode naming filtered-from-vantage; with the runner stopped the watch
    names the missing runner and opens no episode."""
    bot, rcfg = configs(lab, zone_b, zone_db)
    bot["zones"].update(runner_stale_seconds=2)
    bot["watch"] = {"counters_seconds": 1, "syn_per_minute": 600}
    zone_b.lab.listener("db02", WATCH_PORT)
    runner = RunnerProc(rcfg, "b", "b-1", tmp_path, netns=zone_b.runner_ns).start()
    procs.append(runner)
    await wait_live(zone_app, ["b-1"])
    text = f"watch db02:{WATCH_PORT} from zoneb"
    svc = await Whycant.create(parse_config(bot, source="lab"))
    try:
        drop = (3.0, lambda: zone_b.lab.nft_drop_from("db02", "vb", WATCH_PORT))
        evs, wr = await watch_events(svc, text, 45, until="episode", fault=drop)
        zone_b.lab.exec("db02", "nft", "delete", "table", "inet", zone_b.lab.nft_table)
        episodes = [e for e in evs if e["event"] == "episode"]
        assert len(episodes) == 1, evs
        ep = episodes[0]
        assert ep["vantages"] == ["zoneb"] and ep["outcomes"].get("timeout", 0) >= 1, ep
        assert "filtered-from-vantage" in [f["id"] for f in ep["findings"]], ep
        assert [v.name for v in wr.vantages] == ["zoneb"] == evs[0]["vantages"]  # the bot cannot reach zone B
        # the runner's attempts drew from the watch's SYN budget (plus the episode's full collection)
        assert wr.budget.per_minute - wr.budget.left(wr.rec.address) >= evs[-1]["attempts"]["zoneb"]
        assert wr._counters and "TcpExt.ListenOverflows" in wr._counters  # sampled by the runner in zone B
        summary = evs[-1]
        assert summary["event"] == "summary" and "bot" not in summary["attempts"], summary
        assert summary["failures"]["zoneb"] >= 1, summary
        assert summary["attempts"]["zoneb"] >= 3, summary  # clean rounds before the drop, each one job
        assert "(watch) ok" in runner.log()

        runner.stop()
        await asyncio.sleep(2.5)  # its heartbeat is stale now
        zone_b.lab.nft_drop_from("db02", "vb", WATCH_PORT)  # it would fail, were it tried
        evs, wr = await watch_events(svc, text, 4)
    finally:
        await svc.close()
    assert not [e for e in evs if e["event"] == "episode"], evs
    notes = [e for e in evs if e["event"] == "partial"]
    assert notes and notes[0]["reason"] == "no-runner" and notes[0]["zone"] == "b", evs
    assert notes[0]["note"] == "no runner for zone b seen in the last 2 s" and notes[0]["vantages"] == ["zoneb"]
    summary = evs[-1]
    assert summary["failures"].get("zoneb", 0) == 0 and summary["episodes"] == [], summary
    assert "no runner for zone b" in summary["untested"]["zoneb"]["last_error"], summary
