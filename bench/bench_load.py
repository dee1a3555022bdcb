"""Load benchmark (issue 11, point 8): 100 concurrent asks about 20 lab targets through Slack HTTP mode.

    sudo .venv/bin/python -m bench.bench_load [--rounds 10] [--asks 100] [--targets 20] [--window 2]

The lab gets ``--targets`` target namespaces (t01…t20, each with sshd and a listener on 5432) plus the
office1 and app01 vantages. ``whycant serve --http`` runs as a subprocess (its own PID: RSS and
descriptors are the bot's alone) with SQLite in a temporary directory, the default limits, and
``window_seconds`` ``--window``; the Slack stand-in (tests/slack/standin.py: real HTTP) plays Slack.
Each round posts ``--asks`` signed ``app_mention`` events at once ("why can't I connect to tNN:5432
from office and dc", asks spread evenly over the targets, a fresh user per ask and ten channels
per round, so the per-user and per-channel limits are not what is measured) and waits (at most
``--timeout`` s) for every final reply (the message carrying the incident buttons in the ask's
thread). Per ask: time from POST to final reply. Per round: answered/lost, p50/p95, the bot's RSS
and open descriptors. At the end: peak RSS (VmHWM), the database (incidents, evidence rows,
askers: each incident stored once per round), and where the time went (evidence collection of the
shared runs vs the rest). Writes ``bench/results/load.json``. Lab and loopback addresses only;
every wait bounded; the serve process is stopped by its PID, the lab by its names and PIDs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.bench_probe import PORT, RESULTS, load_average, machine, pct

REPO = Path(__file__).resolve().parent.parent


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (kB) and open descriptors of *pid*."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """``python -m bot.cli serve --http PORT`` against the stand-in; stopped by its PID."""

    def __init__(self, config: Path, api_url: str, log: Path, repo: Path = REPO):
        from tests.slack import standin as si

        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(
            SLACK_BOT_TOKEN=si.BOT_TOKEN,
            SLACK_SIGNING_SECRET=si.SIGNING_SECRET,
            SLACK_API_URL=api_url,
            PYTHONUNBUFFERED="1",
        )
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "serve",
                    "--http",
                    str(self.port),
                    "--host",
                    "127.0.0.1",
                    "--config",
                    str(config),
                ],
                cwd=repo,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"serve exited {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
                try:
                    async with s.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise SystemExit("serve did not come up")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


class Replies:
    """Follows the stand-in's calls: mention ts -> time of its final reply (the one with the buttons)."""

    def __init__(self, standin: Any):
        self.thread_of: dict[str, str] = {}  # progress message ts -> thread ts
        self.final_at: dict[str, float] = {}
        orig = standin.m_chat_postMessage
        orig_update = standin.m_chat_update

        def post(args: dict) -> dict:
            r = orig(args)
            thread = args.get("thread_ts")
            if thread:
                self.thread_of[r["ts"]] = thread
                self._maybe_final(thread, args)
            return r

        def update(args: dict) -> dict:
            r = orig_update(args)
            thread = self.thread_of.get(args.get("ts", ""))
            if thread:
                self._maybe_final(thread, args)
            return r

        standin.m_chat_postMessage = post
        standin.m_chat_update = update

    def _maybe_final(self, thread: str, args: dict) -> None:
        if "whycant_rerun" in json.dumps(args) and thread not in self.final_at:
            self.final_at[thread] = time.time()


async def one_round(
    standin: Any, serve: Serve, replies: Replies, rnd: int, asks: int, targets: list[str], timeout: float
) -> dict[str, Any]:
    sent: dict[str, float] = {}
    asks_of: dict[str, list[str]] = {}
    payloads = []
    for i in range(asks):
        target = targets[i % len(targets)]
        ts = f"{1800000000 + rnd}.{i:06d}"
        asks_of.setdefault(target, []).append(ts)
        payloads.append(
            standin.mention(
                f"why can't I connect to {target}:{PORT} from office and dc",
                user=f"U{rnd:02d}{i:04d}",
                channel=f"C{rnd:02d}{i % 10}",
                ts=ts,
            )
        )

    async def send(p: dict) -> int:
        sent[p["event"]["ts"]] = time.time()
        status, _, _ = await standin.deliver_http(serve.url, "events", p)
        return status

    started_epoch = time.time()
    cpu0, (busy0, total0) = cpu_seconds(serve.proc.pid), machine_busy()
    statuses = await asyncio.gather(*(send(p) for p in payloads))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(ts in replies.final_at for ts in sent):
        await asyncio.sleep(0.1)
    lat = [replies.final_at[ts] - t for ts, t in sent.items() if ts in replies.final_at]
    wall = max([replies.final_at[ts] for ts in sent if ts in replies.final_at] or [time.time()]) - started_epoch
    busy1, total1 = machine_busy()
    st = proc_status(serve.proc.pid)
    return {
        "round": rnd + 1,
        "asks": asks,
        "acked_200": sum(1 for s in statuses if s == 200),
        "answered": len(lat),
        "lost": asks - len(lat),
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p95_s": round(pct(lat, 0.95), 3) if lat else None,
        "max_s": round(max(lat), 3) if lat else None,
        "rss_mb": round(st["VmRSS"] / 1024, 1),
        "fds": st["fds"],
        "latencies_s": [round(x, 3) for x in lat],
        "wall_s": round(wall, 2),
        "bot_cpu_s": round(cpu_seconds(serve.proc.pid) - cpu0, 2),
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(total1 - total0, 1e-9), 1),
        "started_epoch": started_epoch,
        "asks_of": asks_of,
    }


def med(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def profile(db: Path, rounds: list[dict[str, Any]], finals: dict[str, float]) -> dict[str, Any]:
    """Where the time goes, per shared run (one evidence row): waiting before the collection started
    (Slack intake, event claims, the incident's start), the collection and its probes, and the
    rest (rules, storage, rendering, Slack calls) until the first reply about that target."""
    starts = sorted((r["started_epoch"], r) for r in rounds)
    before, collect, after = [], [], []
    probes: dict[str, list[float]] = {}
    with sqlite3.connect(db) as c:
        for (data,) in c.execute("SELECT data FROM evidence"):
            ev = json.loads(data)
            st, dur = ev.get("started_at"), ev.get("duration_s") or 0.0
            if not st:
                continue
            rnd = max((r for t0, r in starts if t0 <= st + 0.5), key=lambda r: r["started_epoch"], default=None)
            if rnd is None:
                continue
            target = (ev.get("target") or {}).get("host")
            mine = [finals[ts] for ts in rnd["asks_of"].get(target, []) if ts in finals]
            before.append(st - rnd["started_epoch"])
            collect.append(dur)
            if mine:
                after.append(min(mine) - (st + dur))
            for p in (ev.get("target") or {}).get("probes") or []:
                probes.setdefault(p["probe"], []).append(p.get("duration_s") or 0.0)
            for cr in ev.get("connect") or []:
                probes.setdefault(f"connect {cr['vantage']}", []).append(cr.get("duration_s") or 0.0)
    return {
        "before_collection_median_s": med(before),
        "before_collection_p95_s": round(pct(before, 0.95), 3),
        "collection_median_s": med(collect),
        "collection_p95_s": round(pct(collect, 0.95), 3),
        "after_collection_median_s": med(after),
        "after_collection_p95_s": round(pct(after, 0.95), 3),
        "probe_median_s": {k: med(v) for k, v in sorted(probes.items())},
    }


def cpu_seconds(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f) - idle) / hz, sum(f) / hz


class PlainUser:
    """A temporary login user whose shell is /bin/sh (no rc files for commands), removed at the end.

    On this machine root's ~/.bashrc runs `pyenv init`, which every SSH command pays (and under
    concurrency waits on pyenv's rehash lock); production hosts rarely do. ``--plain-user`` measures
    whycant without that artifact. The lab's sshd takes its keys from one AuthorizedKeysFile for
    every user; the account gets password ``*`` (no password, not locked: sshd without PAM refuses
    locked accounts)."""

    def __init__(self) -> None:
        self.name = f"wcload{os.getpid() % 100000}"

    def __enter__(self) -> str:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", self.name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        subprocess.run(["usermod", "-p", "*", self.name], check=True, capture_output=True, timeout=30)
        return self.name

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["userdel", self.name], check=False, capture_output=True, timeout=30)


def db_figures(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as c:
        incidents = c.execute("SELECT count(*) FROM incidents").fetchone()[0]
        evidence = c.execute("SELECT count(*) FROM evidence").fetchone()[0]
        askers = c.execute("SELECT count(*) FROM askers").fetchone()[0]
        per_incident = [r[0] for r in c.execute("SELECT count(*) FROM evidence GROUP BY incident_id")]
        durations, connects = [], {}
        for (data,) in c.execute("SELECT data FROM evidence"):
            ev = json.loads(data)
            durations.append(ev.get("duration_s") or 0.0)
            for cr in ev.get("connect") or []:
                connects.setdefault(cr["vantage"], []).append(cr.get("duration_s") or 0.0)
    return {
        "incidents": incidents,
        "evidence_rows": evidence,
        "askers": askers,
        "evidence_rows_per_incident": sorted(set(per_incident)),
        "collection_median_s": round(statistics.median(durations), 3) if durations else None,
        "collection_p95_s": round(pct(durations, 0.95), 3) if durations else None,
        "connect_median_s": {k: round(statistics.median(v), 3) for k, v in connects.items()},
    }


async def bench(args: argparse.Namespace, lab: Any, tmp: Path, user: str | None) -> dict[str, Any]:
    from tests.slack.standin import StandIn

    targets = [f"t{i:02d}" for i in range(1, args.targets + 1)]
    for t in targets:
        lab.listener(t, PORT)
    cfg = lab.whycant_config()
    cfg["database"] = f"sqlite:///{tmp}/whycant.db"
    cfg["probe"].update(window_seconds=args.window, connect_attempts=10, connect_timeout=2, connect_interval=0.1)
    if user:
        cfg["ssh"]["user"] = user
        for h in cfg["hosts"].values():
            h["user"] = user
    cfg_path = tmp / "whycant.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    standin = await StandIn().start()
    replies = Replies(standin)
    serve = Serve(cfg_path, standin.api_url, tmp / "serve.log", Path(args.serve_from) if args.serve_from else REPO)
    rounds: list[dict[str, Any]] = []
    try:
        await serve.ready()
        start = proc_status(serve.proc.pid)
        for rnd in range(args.rounds):
            r = await one_round(standin, serve, replies, rnd, args.asks, targets, args.timeout)
            rounds.append(r)
            print(
                f"round {r['round']:>2}: answered {r['answered']}/{r['asks']}, lost {r['lost']}, "
                f"p50 {r['p50_s']} s, p95 {r['p95_s']} s, max {r['max_s']} s, RSS {r['rss_mb']} MB, "
                f"fds {r['fds']}, bot CPU {r['bot_cpu_s']} s in {r['wall_s']} s, machine busy "
                f"{r['machine_busy_pct']}%",
                flush=True,
            )
            await asyncio.sleep(args.pause)
        end = proc_status(serve.proc.pid)
    finally:
        rc = serve.stop()
        await standin.close()
    lat = [x for r in rounds for x in r["latencies_s"]]
    return {
        "rounds": args.rounds,
        "asks_per_round": args.asks,
        "targets": args.targets,
        "window_seconds": args.window,
        "answered": sum(r["answered"] for r in rounds),
        "lost": sum(r["lost"] for r in rounds),
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p95_s": round(pct(lat, 0.95), 3) if lat else None,
        "target_p95_s": args.window + 3,
        "meets_p95": bool(lat) and pct(lat, 0.95) <= args.window + 3,
        "rss_start_mb": round(start["VmRSS"] / 1024, 1),
        "rss_end_mb": round(end["VmRSS"] / 1024, 1),
        "rss_peak_mb": round(end["VmHWM"] / 1024, 1),
        "fds_start": start["fds"],
        "fds_end": end["fds"],
        "rss_round1_mb": rounds[0]["rss_mb"],
        "fds_round1": rounds[0]["fds"],
        "db": db_figures(tmp / "whycant.db"),
        "serve_exit": rc,
        "profile": profile(tmp / "whycant.db", rounds, replies.final_at),
        "per_round": [
            {k: v for k, v in r.items() if k not in ("latencies_s", "asks_of", "started_epoch")} for r in rounds
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--asks", type=int, default=100)
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=90.0, help="per round: wait at most this for the replies")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between rounds")
    ap.add_argument(
        "--serve-from",
        help="run `serve` from this checkout (A/B against another version; e.g. `git archive COMMIT | tar -x -C DIR`)",
    )
    ap.add_argument(
        "--plain-user",
        action="store_true",
        help="log in to the lab hosts as a temporary user with /bin/sh instead of root (see PlainUser)",
    )
    ap.add_argument("--out", default="load.json", help="file name under bench/results/")
    args = ap.parse_args(argv)
    if Path(args.out).name != args.out or not args.out.endswith(".json"):
        ap.error("--out is a file name ending in .json (written under bench/results/)")
    if not (1 <= args.rounds <= 50 and 1 <= args.asks <= 1000 and 1 <= args.targets <= 60):
        ap.error("--rounds 1..50, --asks 1..1000, --targets 1..60")
    sys.path.insert(0, str(REPO))
    from tests.lab.lab import Lab, lab_unavailable_reason

    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"the lab cannot run here: {reason}")
    hosts = {"office1": 20, "app01": 30, **{f"t{i:02d}": 100 + i for i in range(1, args.targets + 1)}}
    load_before = load_average()
    with contextlib.ExitStack() as stack:
        user = stack.enter_context(PlainUser()) if args.plain_user else None
        lab = stack.enter_context(Lab(hosts=hosts))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="whycant-bench-load-"))
        if user:  # sshd reads authorized_keys as the user: let it traverse the lab directory (keys stay 0600)
            os.chmod(lab.dir, 0o711)
            os.chmod(lab.dir / "authorized_keys", 0o644)
        res = asyncio.run(bench(args, lab, Path(tmp), user))
    res["ssh_user"] = (
        f"{user} (shell /bin/sh)" if args.plain_user else "root (login shell bash, ~/.bashrc runs pyenv init)"
    )
    res.update(machine(), load_before=load_before, load_after=load_average())
    print(
        f"\n{res['rounds']} rounds x {res['asks_per_round']} asks about {res['targets']} targets, "
        f"window {res['window_seconds']:g} s; load average before {load_before}, after {res['load_after']}"
    )
    print(
        f"answered {res['answered']}, lost {res['lost']}; p50 {res['p50_s']} s, p95 {res['p95_s']} s "
        f"(target <= {res['target_p95_s']:g} s: {'met' if res['meets_p95'] else 'MISSED'})"
    )
    print(
        f"RSS start {res['rss_start_mb']} MB, after round 1 {res['rss_round1_mb']} MB, end {res['rss_end_mb']} MB, "
        f"peak {res['rss_peak_mb']} MB; fds start {res['fds_start']}, after round 1 {res['fds_round1']}, "
        f"end {res['fds_end']}"
    )
    print("database:", json.dumps(res["db"]))
    print("profile (per shared run):", json.dumps(res["profile"], indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["serve_from"] = args.serve_from or "this checkout"
    (RESULTS / args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {RESULTS / args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
