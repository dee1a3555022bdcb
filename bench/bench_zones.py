"""Sweep through zone runners: N real sshd hosts in zone "far", K `whycant runner` processes, the shared
PostgreSQL queue (procrastinate), `run_drift` from the bot side.

    python -m bench.bench_zones [--hosts 1000] [--runners 2] [--chunk 25] [--concurrency 50] [--rounds 2]

Round 1 is fresh (the runners open every SSH connection), later rounds reuse the runners' pooled
connections. Prints wall time, CPU per host (bot process and runners, from getrusage and /proc) and the
runners' RSS growth per pooled connection; writes bench/results/zones.json. Needs sshd and PostgreSQL on
127.0.0.1:5432 (``$WHYCANT_PG_URL``). Loopback only; every process started here is stopped by its PID,
the throwaway database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from bench.bench_sweep import RESULTS, Fleet

PG_ADMIN = os.environ.get("WHYCANT_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
WHYCANT = str(Path(sys.executable).parent / "whycant")
CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """utime + stime of *pid* in seconds (0 when gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    f = stat[stat.rindex(")") + 2 :].split()
    return (int(f[11]) + int(f[12])) / CLK


def proc_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fleet_config(fleet: Fleet, concurrency: int, database: str) -> dict:
    return {
        "database": database,
        "ssh": {
            "user": fleet.user,
            "client_keys": [str(fleet.dir / "client_ed25519")],
            "known_hosts": str(fleet.dir / "known_hosts"),
            "connect_timeout": 20,
            "command_timeout": 30,
            "max_concurrency": concurrency,
        },
        "hosts": {
            f"h{i:03d}": {"address": "127.0.0.1", "port": p, "groups": ["fleet"]} for i, p in enumerate(fleet.ports)
        },
    }


async def make_database() -> tuple[str, str]:
    import asyncpg

    from bot.storage.db import Database
    from bot.zones.schema import upgrade_zone_schema

    name = f"whycant_bench_zones_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.dispose()
    await upgrade_zone_schema(url)
    return url, name


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def sweep_rounds(cfg_dict: dict, rounds: int, pids: list[int], hosts: int) -> list[dict]:
    from bot.config import parse_config
    from bot.drift.report import run_drift
    from bot.service import Whycant
    from bot.zones import queue

    svc = Whycant(parse_config(cfg_dict, "bench"))
    out = []
    try:
        app = queue.make_app(cfg_dict["database"], application_name="whycant-bench")
        async with app.open_async():  # wait until every runner sent a heartbeat (bounded)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                live = await queue.live_runners(app, 10)
                if sum(len(v) for v in live.values()) >= len(pids):
                    break
                await asyncio.sleep(0.3)
        for i in range(rounds):
            cpu_r0 = sum(proc_cpu(p) for p in pids)
            rss0 = sum(proc_rss_kb(p) for p in pids)
            cpu_b0 = time.process_time()
            t = time.perf_counter()
            report = await run_drift(svc, ["all"], record=False)
            wall = time.perf_counter() - t
            cpu_b = time.process_time() - cpu_b0
            cpu_r = sum(proc_cpu(p) for p in pids) - cpu_r0
            rss1 = sum(proc_rss_kb(p) for p in pids)
            ok = report["hosts"] - len({e["host"] for e in report["errors"]})
            r = {
                "round": i + 1,
                "kind": "fresh" if i == 0 else "pooled",
                "seconds": round(wall, 3),
                "hosts_ok": ok,
                "bot_cpu_ms_per_host": round(cpu_b * 1000 / hosts, 2),
                "runner_cpu_ms_per_host": round(cpu_r * 1000 / hosts, 2),
                "runner_rss_mb": round(rss1 / 1024, 1),
                "notes": report.get("notes", [])[:3],
                "load1": round(os.getloadavg()[0], 2),
            }
            if i == 0:
                r["rss_kb_per_pooled_connection"] = round((rss1 - rss0) / max(hosts, 1), 1)
            print(f"  {r}", flush=True)
            out.append(r)
    finally:
        await svc.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--runners", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=25)
    ap.add_argument("--concurrency", type=int, default=50, help="SSH connections at once per runner")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    if not 1 <= args.hosts <= 1000 or not 1 <= args.runners <= 8 or not 1 <= args.rounds <= 5:
        ap.error("--hosts 1..1000, --runners 1..8, --rounds 1..5")
    workdir = Path(tempfile.mkdtemp(prefix="whycant-bench-zones-"))
    fleet = Fleet(args.hosts, workdir)
    procs: list[subprocess.Popen] = []
    db_name = None
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        t = time.monotonic()
        fleet.start()
        print(f"{args.hosts} sshd up in {time.monotonic() - t:.1f} s; load average {load_before}", flush=True)
        url, db_name = asyncio.run(make_database())
        rcfg = fleet_config(fleet, args.concurrency, url)
        (workdir / "runner.yaml").write_text(yaml.safe_dump(rcfg))
        for k in range(args.runners):
            log = open(workdir / f"runner{k}.log", "wb")  # noqa: SIM115 - the child keeps it
            procs.append(
                subprocess.Popen(
                    [WHYCANT, "runner", "--zone", "far", "--name", f"far-{k}", "-c", str(workdir / "runner.yaml")],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            log.close()
        bot = {**rcfg, "zones": {"groups": {"fleet": "far"}, "sweep_chunk": args.chunk, "job_timeout": 600}}
        rounds = asyncio.run(sweep_rounds(bot, args.rounds, [p.pid for p in procs], args.hosts))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if db_name:
            asyncio.run(drop_database(db_name))
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    doc = {
        "hosts": args.hosts,
        "runners": args.runners,
        "chunk": args.chunk,
        "concurrency": args.concurrency,
        "rounds": rounds,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "zones.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {RESULTS / 'zones.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
