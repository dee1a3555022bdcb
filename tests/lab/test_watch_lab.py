"""Watch mode against the lab (real sshd, nftables, network namespaces; docs/watch.md).

* an nftables drop for one vantage, switched on at random moments, three times: three episodes,
  each caught within one interval of the fault's start, each naming filtered-from-vantage;
* an accept queue that fills (the service stops accepting) and drains: one episode naming
  listen-queue-overflow;
* ten watches and twenty askers on one target: the SYNs counted by an nftables counter in the
  target's namespace stay under the cap.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from bot.config import parse_config
from bot.service import Whycant
from bot.watch.manager import WatchManager, settings_for
from tests.watch.test_resume import Collect

pytestmark = [pytest.mark.lab]

WHYCANT = [sys.executable, "-m", "bot.cli"]
INTERVAL = 1.0
JITTER = 0.1

# A listener whose accept loop SIGUSR1 pauses and SIGUSR2 resumes (an application that stalls).
PAUSABLE = r"""
import signal, socket, sys, time
host, port, backlog, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(backlog)
s.settimeout(0.05)
paused = [False]
signal.signal(signal.SIGUSR1, lambda *a: paused.__setitem__(0, True))
signal.signal(signal.SIGUSR2, lambda *a: paused.__setitem__(0, False))
print("READY {}", flush=True)
end = time.time() + life
while time.time() < end:
    if paused[0]:
        time.sleep(0.02)
        continue
    try:
        c, _ = s.accept()
        c.close()
    except OSError:
        pass
"""


def lab_config(lab, tmp_path, **watch) -> dict:
    cfg = lab.whycant_config()
    cfg["database"] = f"sqlite:///{tmp_path}/w.db"
    cfg["watch"] = {"counters_seconds": 2, **watch}
    return cfg


class CliWatch:
    """`whycant watch … --json` in the background; its events with their arrival times."""

    def __init__(self, cfg: dict, tmp_path, text: str, duration: str):
        path = tmp_path / "whycant.yaml"
        path.write_text(yaml.safe_dump(cfg))
        self.proc = subprocess.Popen(
            [*WHYCANT, "watch", text, "--every", str(INTERVAL), "--for", duration, "--json", "--config", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def wait_for(self, kind: str, n: int = 1, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [e for e in self.events if e["event"] == kind]
            if len(got) >= n:
                return got
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no {n} {kind} event(s) in time: {self.events} {self.proc.stderr.read()[-2000:]}")

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=5)
        return self.wait_for("summary")[0]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_flapping_drop_for_one_vantage_gives_three_episodes(clean_lab, tmp_path):
    lab = clean_lab
    lab.listener("db01", 6102)
    w = CliWatch(lab_config(lab, tmp_path), tmp_path, "db01:6102 from office and dc", "120s")
    rnd = random.Random()
    fault_starts: list[float] = []
    try:
        w.wait_for("started")
        for i in range(3):
            time.sleep(rnd.uniform(1.5, 3.5))  # a random moment
            fault_starts.append(time.time())
            lab.nft_drop_from("db01", "office1", 6102)
            w.wait_for("episode", i + 1, timeout=30)
            time.sleep(1.0)
            lab.exec("db01", "nft", "delete", "table", "inet", lab.nft_table)
            w.wait_for("recovered", i + 1, timeout=30)
        summary = w.stop()
    finally:
        w.kill()
    episodes = [e for e in w.events if e["event"] == "episode"]
    assert len(episodes) == 3, [e["event"] for e in w.events]
    assert len([e for e in w.events if e["event"] == "recovered"]) == 3
    for ep, t_on in zip(episodes, fault_starts):
        # caught within one interval of the fault's start (the episode starts at its failed round's start)
        lag = _ts(ep["start"]) - t_on
        print(f"episode {ep['number']}: started {lag:+.2f} s after the fault")
        assert -1.0 <= lag <= INTERVAL * (1 + JITTER) + 0.5, (lag, ep)  # + one round's own time
        assert ep["vantages"] == ["office"], ep
        assert "filtered-from-vantage" in [f["id"] for f in ep["findings"]], ep
        assert ep["incident"] is not None
    assert summary["failures"]["office"] >= 3 and summary["failures"]["dc"] == 0 == summary["failures"]["bot"]
    assert summary["attempts"]["dc"] >= 10 and len(summary["episodes"]) == 3
    assert summary["findings"]["filtered-from-vantage"] == 3


def test_accept_queue_fills_and_drains(clean_lab, tmp_path):
    lab = clean_lab
    port, backlog = 6103, 4
    lab.set_sysctl("db01", "net.core.somaxconn", backlog)
    helper = lab.spawn_helper("db01", "listener-pausable", port, PAUSABLE, "0.0.0.0", port, backlog, 120)
    w = CliWatch(lab_config(lab, tmp_path), tmp_path, f"db01:{port}", "120s")
    try:
        w.wait_for("started")
        time.sleep(random.uniform(1.5, 3.0))
        t_on = time.time()
        helper.proc.send_signal(signal.SIGUSR1)  # the service stalls
        lab.hold_connections(lab.loadgen(), "db01", port, backlog + 2, timeout=0.5)  # its queue fills
        ep = w.wait_for("episode", timeout=20)[0]
        helper.proc.send_signal(signal.SIGUSR2)  # it accepts again: the queue drains
        rec = w.wait_for("recovered", timeout=20)[0]
        summary = w.stop()
    finally:
        w.kill()
    assert _ts(ep["start"]) - t_on <= INTERVAL * (1 + JITTER) + 1.5, ep  # the fill itself takes up to ~1 s
    assert "listen-queue-overflow" in [f["id"] for f in ep["findings"]], ep
    assert rec["number"] == 1 and len([e for e in w.events if e["event"] == "episode"]) == 1
    assert summary["episodes"][0]["end"] is not None


def _nft_counter(lab, table: str) -> int:
    out = lab.exec("db01", "nft", "list", "table", "inet", table).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


async def test_syn_cap_holds_with_ten_watches_and_twenty_askers(clean_lab, tmp_path):
    lab = clean_lab
    ports = list(range(7100, 7110))
    for p in ports:
        lab.listener("db01", p)
    cap = 30
    table = "wcwatchsyn"
    lab.exec(
        "db01",
        "nft",
        "-f",
        "-",
        input=(
            f"add table inet {table}\n"
            f"add chain inet {table} input {{ type filter hook input priority -10; policy accept; }}\n"
            f"add rule inet {table} input tcp dport {ports[0]}-{ports[-1]} tcp flags & (syn | ack) == syn counter\n"
        ),
    )
    cfg = parse_config(lab_config(lab, tmp_path, syn_per_minute=cap, counters_seconds=60), source="lab")
    svc = await Whycant.create(cfg)
    sink = Collect()
    mgr = WatchManager(svc, lambda _rec: sink, replica="lab", settings=settings_for(cfg), stale_after=30)
    svc.watch_manager = mgr
    try:
        for p in ports:  # ten watches, each asked for by two people: twenty askers
            for who in ("U0ALICE", "U0BOB"):
                await mgr.watch(f"db01:{p} from office and dc every 1s for 1h", who=f"{who}{p}")
        assert len(mgr.running) == 10
        assert all(len(w["askers"]) == 2 for w in await mgr.watches())
        await asyncio.sleep(8)  # uncapped this would be 10 watches × 3 vantages × 8 rounds = 240 SYNs
        seen = _nft_counter(lab, table)
        capped = sum(r.runner.capped for r in mgr.running.values())
        print(f"SYNs at the target in 8 s: {seen} (cap {cap}/min); attempts skipped by the cap: {capped}")
    finally:
        await mgr.shutdown()
        await svc.close()
        lab.exec("db01", "nft", "delete", "table", "inet", table, check=False)
    assert 0 < seen <= cap, seen
    assert capped >= 10 * 3 * 6 - cap, capped  # the rest were skipped, and counted as such
    assert mgr.budget.left(lab.address("db01")) == 0


async def test_the_shared_limiter_caps_a_watch_too(clean_lab, tmp_path):
    """The per-target:port budget every ask uses (limits.syn_per_target_per_minute) holds for watches
    even when the watch budget itself is generous."""
    lab = clean_lab
    port, table = 7120, "wcwatchsyn2"
    lab.listener("db01", port)
    lab.exec(
        "db01",
        "nft",
        "-f",
        "-",
        input=(
            f"add table inet {table}\n"
            f"add chain inet {table} input {{ type filter hook input priority -10; policy accept; }}\n"
            f"add rule inet {table} input tcp dport {port} tcp flags & (syn | ack) == syn counter\n"
        ),
    )
    raw = lab_config(lab, tmp_path, syn_per_minute=10000, counters_seconds=60)
    raw["limits"] = {"syn_per_target_per_minute": 12, "syn_wait_seconds": 0}
    cfg = parse_config(raw, source="lab")
    svc = await Whycant.create(cfg)
    sink = Collect()
    mgr = WatchManager(svc, lambda _rec: sink, replica="lab", settings=settings_for(cfg), stale_after=30)
    try:
        await mgr.watch(f"db01:{port} from office and dc every 1s for 1h", who="U0ALICE")
        await asyncio.sleep(8)  # uncapped: 3 vantages × 8 rounds = 24 SYNs
        seen = _nft_counter(lab, table)
        capped = sum(r.runner.capped for r in mgr.running.values())
    finally:
        await mgr.shutdown()
        await svc.close()
        lab.exec("db01", "nft", "delete", "table", "inet", table, check=False)
    assert 0 < seen <= 12 + 3, seen  # the bucket's 12, plus what refills in 8 s (12/min)
    assert capped >= 6, capped


def test_a_vantage_that_cannot_test_is_named_not_blamed_on_the_target(clean_lab, tmp_path):
    lab = clean_lab
    lab.listener("db01", 6104)
    w = CliWatch(lab_config(lab, tmp_path), tmp_path, "db01:6104 from office and dc", "60s")
    try:
        w.wait_for("started")
        time.sleep(1.5)
        lab.stop_sshd("office1")  # the vantage, not the target, goes away: its sshd and open sessions
        for pid in lab.netns_pids("office1"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(3.5)
        summary = w.stop()
    finally:
        w.kill()
    assert [e for e in w.events if e["event"] == "episode"] == []
    assert summary["untested"]["office"]["rounds"] >= 2, summary
    assert summary["failures"].get("office", 0) == 0
    assert summary["attempts"]["dc"] >= 4 and summary["failures"]["dc"] == 0
