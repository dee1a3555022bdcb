"""`incidents list` latency with 100,000 incidents, on SQLite and PostgreSQL (docs/architecture.md §Storage, issue 4).

    python -m bench.bench_incidents [--n 100000] [--calls 50] [--backends sqlite,postgres] [--pg-url URL]

Bulk-inserts N incidents (500 hosts, 4 ports, ~90% resolved, spread over a year) into a fresh SQLite file and
a fresh PostgreSQL database (created on ``$WHYCANT_PG_URL``'s server, dropped afterwards), then times the
service queries behind ``whycant incidents list`` (default limit 50; by host; by status; both) and
``history``: p50/p95 over --calls calls each. Prints a table and writes ``bench/results/incidents-<stamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bot.storage.db import Database
from bot.storage.incidents import IncidentService
from bot.storage.models import Incident

RESULTS = Path(__file__).resolve().parent / "results"
HOSTS = [f"db{n:03d}" for n in range(250)] + [f"web{n:03d}" for n in range(250)]
PORTS = [5432, 6432, 443, 22]
STATUSES = ["resolved"] * 90 + ["open"] * 4 + ["acked"] * 3 + ["interrupted"] * 3
VERDICTS = [
    "[listen-queue-overflow] accept queue overflows on the target",
    "[port-not-listening] nothing listens on that port",
    "[filtered-from-vantage] SYNs dropped from office",
    "no problem found: every vantage connected",
]


def rows(n: int, seed: int = 4) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / n
    out = []
    for i in range(n):
        created = start + step * i
        status = rnd.choice(STATUSES)
        out.append(
            {
                "host": rnd.choice(HOSTS),
                "address": f"198.18.{rnd.randrange(256)}.{rnd.randrange(256)}",
                "port": rnd.choice(PORTS),
                "service": None,
                "vantages": ["office", "bot"],
                "request_text": None,
                "status": status,
                "verdict": rnd.choice(VERDICTS),
                "top_severity": rnd.choice(["critical", "warning", "info", None]),
                "created_at": created,
                "updated_at": created,
                "last_asked_at": created,
                "resolved_at": created + timedelta(minutes=30) if status == "resolved" else None,
                "asked_count": rnd.randint(1, 5),
                "opened_by": f"U{rnd.randrange(10**6):06d}",
                "channel": "C0INFRA",
                "thread_ts": None,
                "reply_ts": None,
                "diagnosing": False,
                "runner": None,
                "diagnosing_since": None,
                "acked_by": None,
                "resolved_by": None,
                "resolution_note": None,
            }
        )
    return out


async def bulk_insert(db: Database, data: list[dict[str, Any]], chunk: int = 5000) -> float:
    t = time.perf_counter()
    for i in range(0, len(data), chunk):
        async with db.session(write=True) as s:
            await s.execute(insert(Incident), data[i : i + chunk])
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return time.perf_counter() - t


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(q[94], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(ms[-1], 3),
        "calls": len(ms),
    }


async def measure(svc: IncidentService, calls: int, rnd: random.Random) -> dict[str, dict[str, float]]:
    cases = {
        "list (limit 50)": lambda: svc.list(limit=50),
        "list --host": lambda: svc.list(host=rnd.choice(HOSTS), limit=50),
        "list --status open": lambda: svc.list(status="open", limit=50),
        "list --status resolved": lambda: svc.list(status="resolved", limit=50),
        "list --host --status open": lambda: svc.list(host=rnd.choice(HOSTS), status="open", limit=50),
        "history HOST": lambda: svc.history(rnd.choice(HOSTS)),
    }
    out = {}
    for name, call in cases.items():
        for _ in range(3):  # warm-up
            await call()
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            items = await call()
            samples.append(time.perf_counter() - t)
        out[name] = {**_stats(samples), "rows": len(items)}
    return out


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(make_url(admin_url).set(drivername="postgresql").render_as_string(False), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_backend(backend: str, n: int, calls: int, pg_url: str) -> dict[str, Any]:
    cleanup = None
    tmp = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="whycant-bench-")
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        name = f"whycant_bench_{secrets.token_hex(4)}"
        await _pg_admin(pg_url, f'CREATE DATABASE "{name}"')
        url = make_url(pg_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
        cleanup = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    db = Database(url)
    try:
        await db.upgrade()
        data = rows(n)
        insert_s = await bulk_insert(db, data)
        svc = IncidentService(db)
        res = await measure(svc, calls, random.Random(7))
        return {
            "backend": backend,
            "incidents": n,
            "insert_s": round(insert_s, 2),
            "insert_rows_per_s": round(n / insert_s),
            "queries": res,
        }
    finally:
        await db.dispose()
        if cleanup:
            await _pg_admin(pg_url, cleanup)
        if tmp:
            tmp.cleanup()


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"\nincidents list latency, {results[0]['incidents']:,} incidents (service call, ms)")
    header = f"{'query':<28}" + "".join(f"{r['backend'] + ' p50':>14}{r['backend'] + ' p95':>14}" for r in results)
    print(header)
    print("-" * len(header))
    for q in results[0]["queries"]:
        print(
            f"{q:<28}"
            + "".join(f"{r['queries'][q]['p50_ms']:>14.2f}{r['queries'][q]['p95_ms']:>14.2f}" for r in results)
        )
    for r in results:
        print(f"bulk insert {r['backend']}: {r['insert_s']} s ({r['insert_rows_per_s']:,} rows/s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument(
        "--pg-url", default=os.environ.get("WHYCANT_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"{backend}: inserting {args.n:,} incidents ...", file=sys.stderr, flush=True)
        results.append(asyncio.run(run_backend(backend, args.n, args.calls, args.pg_url)))
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"incidents-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "incidents list latency",
                "when": datetime.now(timezone.utc).isoformat(),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "loadavg_1m": os.getloadavg()[0],
                },
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
