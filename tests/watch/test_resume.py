"""Watches survive restarts: the process running a watch is killed (SIGKILL) mid-watch and two
replicas sharing PostgreSQL race to resume it: exactly one does, with the counts from before the kill;
a watch that expired while nobody ran it ends with a note, once. Chat commands on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bot.config import parse_config
from bot.service import Whycant
from bot.watch.manager import WatchManager, settings_for
from tests.pg import throwaway_database

WHYCANT = [sys.executable, "-m", "bot.cli"]
STALE = 3.0


class Collect:
    """A sink that keeps every event (per replica)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    async def started(self, ev):
        self.events.append(ev)
        return None

    async def episode(self, ev, post_ts):
        self.events.append(ev)
        return None

    async def recovered(self, ev, post_ts):
        self.events.append(ev)

    async def note(self, ev):
        self.events.append(ev)

    async def summary(self, ev, png):
        self.events.append({**ev, "png": bool(png)})


@pytest.fixture
async def listener():
    async def handle(_r, w):
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def config_dict(url: str) -> dict:
    return {
        "database": url,
        "hosts": {"lo": {"address": "127.0.0.1", "transport": "local"}},
        "probe": {"window_seconds": 0.2, "connect_attempts": 2, "connect_timeout": 1},
        "watch": {"stale_seconds": STALE, "counters_seconds": 1},
    }


async def start_cli_watch(cfg_path: Path, text: str, duration: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [*WHYCANT, "watch", text, "--every", "1", "--for", duration, "--json", "-c", str(cfg_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    started = json.loads(line)
    assert started["event"] == "started", line
    return proc, started


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


async def replicas(url: str, n: int = 2) -> list[tuple[Whycant, WatchManager, Collect]]:
    cfg = parse_config(config_dict(url), source="test")
    out = []
    for i in range(n):
        svc = await Whycant.create(cfg, rules=None)
        sink = Collect()
        mgr = WatchManager(
            svc, lambda _rec, s=sink: s, replica=f"replica-{i}", settings=settings_for(cfg), stale_after=STALE
        )
        svc.watch_manager = mgr
        out.append((svc, mgr, sink))
    return out


async def test_killed_watch_is_resumed_by_exactly_one_replica(tmp_path, listener):
    async with throwaway_database("whycant_watch") as url:
        cfg_path = tmp_path / "w.yaml"
        cfg_path.write_text(yaml.safe_dump(config_dict(url)))
        proc, started = await start_cli_watch(cfg_path, f"lo:{listener}", "60s")
        try:
            await asyncio.sleep(3.5)  # a few rounds stored
        finally:
            kill(proc)
        reps = await replicas(url)
        try:
            await asyncio.sleep(STALE + 0.5)
            taken = await asyncio.gather(*(m.resume_once() for _s, m, _k in reps))
            assert sorted(taken, key=len) == [[], [started["watch"]]], taken
            # and never again, by either, while the new owner beats
            await asyncio.sleep(STALE + 1)
            assert await asyncio.gather(*(m.resume_once() for _s, m, _k in reps)) == [[], []]
            owner = next(r for r, t in zip(reps, taken) if t)
            other = next(r for r, t in zip(reps, taken) if not t)
            ev = owner[2].events[0]
            assert ev["event"] == "started" and ev["resumed"] is True and ev["watch"] == started["watch"]
            assert not other[2].events
            # unwatch from the other replica: the owner notices on its next save and posts the summary
            await other[1].unwatch(started["watch"], "U0BOB")
            await asyncio.wait_for(next(iter(owner[1].running.values())).task, 10)
            summary = owner[2].events[-1]
            assert summary["event"] == "summary" and summary["status"] == "stopped" and summary["png"]
            # the attempts made before the kill are counted too (≈3 before, ≈5 after)
            assert summary["attempts"]["bot"] >= 6 and summary["failures"]["bot"] == 0, summary
        finally:
            for svc, mgr, _k in reps:
                await mgr.shutdown()
                await svc.close()


async def test_watch_that_expired_while_down_ends_once_with_a_note(tmp_path, listener):
    async with throwaway_database("whycant_watch") as url:
        cfg_path = tmp_path / "w.yaml"
        cfg_path.write_text(yaml.safe_dump(config_dict(url)))
        proc, started = await start_cli_watch(cfg_path, f"lo:{listener}", "4s")
        await asyncio.sleep(1.5)
        kill(proc)
        await asyncio.sleep(max(STALE, 2.5) + 0.5)
        reps = await replicas(url)
        try:
            taken = await asyncio.gather(*(m.resume_once() for _s, m, _k in reps))
            assert sorted(taken, key=len) == [[], [started["watch"]]], taken
            events = [e for _s, _m, k in reps for e in k.events]
            assert [e["event"] for e in events] == ["summary"]
            assert events[0]["status"] == "expired" and "while no replica was running it" in events[0]["note"]
            assert await reps[0][1].watches() == []
        finally:
            for svc, mgr, _k in reps:
                await mgr.shutdown()
                await svc.close()


async def test_chat_watch_join_list_unwatch(tmp_path, listener):
    cfg = parse_config(config_dict(f"sqlite:///{tmp_path}/w.db"), source="test")
    svc = await Whycant.create(cfg)
    sink = Collect()
    svc.watch_manager = WatchManager(svc, lambda _rec: sink, replica="r", settings=settings_for(cfg), stale_after=STALE)
    try:
        out = await svc.handle(f"watch lo:{listener} for 1h every 1s", who="U0ALICE", channel="C1")
        assert out.kind == "text" and out.text.startswith("Watching 1: lo:") and not out.data["joined"]
        again = await svc.handle(f"watch lo:{listener}", who="U0BOB", channel="C1")
        assert again.text.startswith("You joined watch 1") and again.data["joined"]
        listed = await svc.handle("watches", who="U0BOB")
        assert [w["askers"] for w in listed.data["watches"]] == [["U0ALICE", "U0BOB"]]
        await asyncio.sleep(2.5)
        stopped = await svc.handle("unwatch 1", who="U0BOB")
        assert "stopped by U0BOB" in stopped.text
        await asyncio.wait_for(asyncio.gather(*(r.task for r in svc.watch_manager.running.values())), 10)
        assert [e["event"] for e in sink.events] == ["started", "summary"]
        assert sink.events[-1]["attempts"]["bot"] >= 2 and sink.events[-1]["status"] == "stopped"
        assert (await svc.handle("unwatch 1", who="U0BOB")).text == "watch 1 has already stopped"
        bad = await svc.handle("watch lo", who="U0BOB")
        assert bad.kind == "error" and "needs one port" in bad.text
        assert (await svc.handle("watches", who="U0BOB")).data["watches"] == []
    finally:
        await svc.watch_manager.shutdown()
        await svc.close()


async def test_graceful_stop_hands_the_watch_over_at_once(tmp_path, listener):
    async with throwaway_database("whycant_watch") as url:
        a, b = await replicas(url)
        try:
            rec, joined, run = await a[1].watch(f"lo:{listener} every 1s for 1h", who="U0ALICE", channel="C1")
            assert not joined and run is not None
            await asyncio.sleep(2.5)
            await a[1].shutdown()  # SIGTERM-like: the watch stays active, released
            assert [e["event"] for e in a[2].events] == ["started"]
            assert await b[1].resume_once() == [rec.id]  # no wait for the heartbeat to go stale
            assert await a[1].resume_once() == []
            await asyncio.sleep(1.5)
            await b[1].unwatch(rec.id, "U0ALICE")
            await asyncio.wait_for(next(iter(b[1].running.values())).task, 10)
            summary = b[2].events[-1]
            assert b[2].events[0]["resumed"] and summary["status"] == "stopped"
            assert summary["attempts"]["bot"] >= 3  # before the hand-over and after
        finally:
            for svc, mgr, _k in (a, b):
                await mgr.shutdown()
                await svc.close()


def test_cli_refuses_bad_input_with_one_line(tmp_path):
    cfg_path = tmp_path / "w.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict(f"sqlite:///{tmp_path}/w.db")))
    cfg_path.chmod(0o600)
    for args, message in (
        (["lo:1", "--every", "0.5"], "watch interval 0.5s: it must be between 1s and 3600s"),
        (["lo:1", "--for", "soon"], "--for 'soon': use e.g. 30s"),
        (["lo"], "a watch needs one port"),
        (["nosuchhost:5432"], "nosuchhost"),
    ):
        r = subprocess.run(
            [*WHYCANT, "watch", *args, "--config", str(cfg_path)], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.splitlines()[-1].startswith("whycant: ") and message in r.stderr, (args, r.stderr)


async def test_console_runs_a_watch_and_prints_its_table(tmp_path, listener):
    cfg_path = tmp_path / "w.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict(f"sqlite:///{tmp_path}/w.db")))
    cfg_path.chmod(0o600)
    proc = subprocess.Popen(
        [*WHYCANT, "console", "--config", str(cfg_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        proc.stdin.write(f"watch lo:{listener} for 3s every 1s\nwatches\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not any(" ended:" in x for x in lines):
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 40)
            if not line:
                break
            lines.append(line)
        # communicate() reads the raw pipe and would drop what readline() already buffered (the
        # table, when it arrived together with the "ended:" line): read the rest through the file
        proc.stdin.close()
        rest = await asyncio.wait_for(asyncio.to_thread(proc.stdout.read), 30)
        err = await asyncio.wait_for(asyncio.to_thread(proc.stderr.read), 30)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    assert proc.returncode == 0, err
    assert f"Watching 1: lo:{listener} from bot every 1s" in out
    assert f"1: lo:{listener} from bot every 1s until" in out  # `watches`
    assert f"watch 1 on lo:{listener} ended:" in out
    assert "bot                 " in out and "episodes: 0" in out  # the text table


async def test_an_episode_the_syn_budget_could_not_collect_is_still_posted_once(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there yet: refused
    raw = config_dict(f"sqlite:///{tmp_path}/w.db")
    raw["watch"]["syn_per_minute"] = 4  # a round takes 1; the full collection needs 2 attempts × 2 = 4
    cfg = parse_config(raw, source="test")
    svc = await Whycant.create(cfg)
    sink = Collect()
    mgr = WatchManager(svc, lambda _rec: sink, replica="r", settings=settings_for(cfg), stale_after=STALE)
    server = None
    try:
        await mgr.watch(f"lo:{port} every 1s for 1h", who="U0ALICE")
        for _ in range(50):
            if mgr.running[1].runner.tracker.current is not None:  # the first failed round
                break
            await asyncio.sleep(0.1)
        server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port)
        for _ in range(50):
            if any(e["event"] == "recovered" for e in sink.events):
                break
            await asyncio.sleep(0.1)
    finally:
        await mgr.shutdown()
        await svc.close()
        if server is not None:
            server.close()
    kinds = [e["event"] for e in sink.events]
    assert kinds == ["started", "episode", "recovered"], sink.events
    ep = sink.events[1]
    assert ep["findings"] == [] and "SYN budget" in ep["verdict"] and ep["vantages"] == ["bot"]
