"""Drop-reasons benchmark (issue 14): what the kfree_skb trace costs a diagnosis.

    python -m bench.bench_drop_reasons [--runs 5] [--window 2] [--lines 200000]

* **lab** (needs root, see tests/lab/README.md): on a lab host whose sshd sees tracefs,
  ``DropWindow.start`` and ``stop`` over warm SSH, ``--runs`` times with a ``--window`` s pause
  between them: their durations and the size of the trace read back;
* **parse**: ``parse_trace`` on a synthetic trace of ``--lines`` lines shaped like the captured
  ones (receive, route lookup, drop; 1 in 3 lines a drop): seconds and lines/s.

Prints a table and writes ``bench/results/drop-reasons.json``. Lab addresses only; bounded
loops; the lab host and the lab are removed by the names and PIDs they were created with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from probes.parsers.drop_trace import parse_trace

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_trace(lines: int) -> str:
    out = ["# tracer: nop", "#", f"# entries-in-buffer/entries-written: {lines}/{lines}   #P:2", "#"]
    for i in range(lines // 3):
        cpu, ts, skb = i % 2, 100 + i * 1e-5, f"{i:016x}"
        out.append(f"  python3-4242  [{cpu:03d}] ..s1.  {ts:.6f}: netif_receive_skb: dev=eth0 skbaddr={skb} len=60")
        out.append(
            f"  python3-4242  [{cpu:03d}] ..s1.  {ts:.6f}: fib_table_lookup: table 254 oif 0 iif 2 proto 0 "
            f"198.18.1.{i % 250}/0 -> 198.18.1.10/0 tos 0 scope 0 flags 0 ==> dev eth0 gw 0.0.0.0/:: err 0"
        )
        out.append(
            f"  python3-4242  [{cpu:03d}] ..s1.  {ts:.6f}: kfree_skb: skbaddr={skb} rx_sk=0000000000000000 "
            "protocol=2048 location=nft_do_chain+0x46f/0x690 reason: NETFILTER_DROP"
        )
    return "\n".join(out) + "\n"


def bench_parse(lines: int) -> dict[str, Any]:
    text = synthetic_trace(lines)
    t0 = time.perf_counter()
    res = parse_trace(text)
    dt = time.perf_counter() - t0
    return {
        "lines": lines,
        "bytes": len(text),
        "drops": len(res.drops),
        "seconds": round(dt, 3),
        "lines_per_s": round(lines / dt) if dt else None,
    }


async def _lab_runs(lab: Any, runs: int, window: float) -> dict[str, Any]:
    from bot.config import parse_config
    from probes import drop_reasons as dr
    from probes.evidence import HostEvidence
    from probes.inventory import Host
    from probes.transports.ssh import SSHTransport

    sizes: list[int] = []
    split = dr.split_stop_output

    def measuring(out: str) -> tuple[str | None, list[str]]:
        sizes.append(len(out))
        return split(out)

    dr.split_stop_output = measuring  # type: ignore[assignment]  # count the bytes read back
    t = SSHTransport(parse_config(lab.whycant_config(connect_timeout=10), source="bench").ssh)
    host = Host(name="drbench", address=lab.address("drbench"), user="root")
    start, stop, details = [], [], []
    try:
        await t.run(host, ["true"], timeout=15)  # warm the connection
        for _ in range(runs):
            w, ev = dr.DropWindow(command_timeout=15, max_s=60), HostEvidence(host="drbench")
            a = time.monotonic()
            await w.start(host, t, ev, [host.address])
            b = time.monotonic()
            await asyncio.sleep(window)
            c = time.monotonic()
            await w.stop()
            start.append(b - a)
            stop.append(time.monotonic() - c)
            details.append(ev.drops.detail if ev.drops else "")
    finally:
        dr.split_stop_output = split  # type: ignore[assignment]
        await t.close()
    return {
        "runs": runs,
        "window_s": window,
        "start_median_s": round(statistics.median(start), 3),
        "start_max_s": round(max(start), 3),
        "stop_median_s": round(statistics.median(stop), 3),
        "stop_max_s": round(max(stop), 3),
        "trace_bytes_median": int(statistics.median(sizes)) if sizes else 0,
        "trace_bytes_max": max(sizes, default=0),
        "details": details,
    }


def bench_lab(runs: int, window: float) -> dict[str, Any] | str:
    from tests.lab.lab import Lab, lab_unavailable_reason

    reason = lab_unavailable_reason()
    if reason:
        return f"skipped: {reason}"
    with Lab() as lab:
        lab.add_host("drbench", tracefs=True)
        return asyncio.run(_lab_runs(lab, runs, window))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench_drop_reasons")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--lines", type=int, default=200_000)
    args = ap.parse_args(argv)
    runs, window, lines = (
        max(1, min(args.runs, 50)),
        max(0.0, min(args.window, 30.0)),
        max(3, min(args.lines, 3_000_000)),
    )
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "parse": bench_parse(lines),
        "lab": bench_lab(runs, window),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    p = result["parse"]
    print(
        f"parse   {p['lines']:>9,} lines {p['bytes'] / 1e6:6.1f} MB  {p['seconds']:.3f} s  {p['lines_per_s']:,} lines/s"
    )
    lab_res = result["lab"]
    if isinstance(lab_res, dict):
        print(f"start   median {lab_res['start_median_s']:.3f} s  max {lab_res['start_max_s']:.3f} s")
        print(
            f"stop    median {lab_res['stop_median_s']:.3f} s  max {lab_res['stop_max_s']:.3f} s  "
            f"trace {lab_res['trace_bytes_median']:,} B median, {lab_res['trace_bytes_max']:,} B max "
            f"per {lab_res['window_s']:g} s window"
        )
    else:
        print(f"lab     {lab_res}")
    print(f"load    {load_before} -> {result['loadavg_after']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drop-reasons.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
