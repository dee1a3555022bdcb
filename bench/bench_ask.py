"""`ask` benchmark: end-to-end wall time of ``Whycant.handle(...)`` with warm connections (issue 3).

    python -m bench.bench_ask [--runs 7]

In the network-namespace lab (needs root, see tests/lab/README.md): a listener on db01:5432, then
``Whycant.handle("is db01:5432 reachable from office and dc")`` in-process -- the bot, office and dc
vantages, the default probe settings (``window_seconds`` 5, ``connect_attempts`` 10,
``connect_interval`` 0.1 s, ``connect_timeout`` 2 s), no database. One untimed ask opens the pooled
connections; then ``--runs`` timed asks. The issue's target: at most ``window_seconds`` + 1.5 s.
Reports median/p95 wall time, the overhead beyond the window, and where the overhead goes (before
T0 is sampled, T0 -> end of window, T1 phase, rules and rendering). Writes ``bench/results/ask.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from bench.bench_probe import PORT, RESULTS, lab_config, lab_or_exit, load_average, machine, pct

QUESTION = f"is db01:{PORT} reachable from office and dc"
BUDGET_S = 1.5


async def bench(cfg, runs: int) -> dict[str, Any]:
    from bot.service import Whycant

    window = cfg.probe.window_seconds
    svc = Whycant(cfg)
    walls: list[float] = []
    phases: list[dict[str, float]] = []
    verdicts: set[str] = set()
    errors: set[str] = set()
    try:
        first = await svc.handle(QUESTION)  # warm-up: opens the pooled connections, starts SFTP sessions
        if first.kind != "diagnosis":
            raise SystemExit(f"ask did not diagnose: {first.kind}: {first.text}")
        for _ in range(runs):
            marks: dict[str, float] = {}

            async def progress(p) -> None:
                marks.setdefault(p.stage, time.perf_counter())  # noqa: B023 - used within its own run

            t = time.perf_counter()
            out = await svc.handle(QUESTION, on_progress=progress)
            end = time.perf_counter()
            walls.append(end - t)
            ev = out.evidence
            verdicts.add(out.diagnosis.verdict if out.diagnosis else str(out.text))
            errors.update(f"{e['host']} {e['probe']}: {e['error']}" for e in ev.probe_errors())
            tgt = ev.target
            t0 = next(p for p in tgt.probes if p.probe == "counters_t0")
            t1 = next(p for p in tgt.probes if p.probe == "counters_t1")
            row = {
                "wall_s": end - t,
                "evidence_s": ev.duration_s,
                "window_measured_s": (tgt.t1_at - tgt.t0_at) if tgt.t0_at and tgt.t1_at else float("nan"),
                "counters_t0_s": t0.duration_s,
                "counters_t1_s": t1.duration_s,
                "connect_max_s": max(c.duration_s for c in ev.connect),
                "collect_overhead_s": (marks["counters_t1"] - marks["planned"]) - window
                if "counters_t1" in marks
                else float("nan"),
                "after_evidence_s": (end - t) - ev.duration_s,
            }
            for c in ev.connect:
                row[f"connect_{c.vantage}_s"] = c.duration_s
            phases.append(row)
    finally:
        await svc.close()
    over = [w - window for w in walls]
    keys = list(dict.fromkeys(k for r in phases for k in r))
    return {
        "runs": runs,
        "question": QUESTION,
        "window_seconds": window,
        "connect_attempts": cfg.probe.connect_attempts,
        "connect_interval": cfg.probe.connect_interval,
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_p95_s": round(pct(walls, 0.95), 3),
        "overhead_median_s": round(statistics.median(over), 3),
        "overhead_p95_s": round(pct(over, 0.95), 3),
        "target_s": window + BUDGET_S,
        "meets_target_p95": pct(walls, 0.95) <= window + BUDGET_S,
        "phases_median_s": {k: round(statistics.median([r[k] for r in phases if k in r]), 4) for k in keys},
        "walls_s": [round(w, 3) for w in walls],
        "verdicts": sorted(verdicts),
        "probe_errors": sorted(errors)[:20],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    if not 1 <= args.runs <= 100:
        ap.error("--runs must be 1..100")
    load_before = load_average()
    with lab_or_exit() as lab:
        lab.listener("db01", PORT)
        # the defaults of docs/architecture.md §Configuration `probe:` (the lab config shortens them for the tests)
        cfg = lab_config(lab, window_seconds=5, connect_attempts=10, connect_timeout=2, connect_interval=0.1)
        res = asyncio.run(bench(cfg, args.runs))
    res.update(machine(), load_before=load_before, load_after=load_average())
    print(f"load average before {load_before}, after {res['load_after']} ({res['cpus']} CPUs)")
    print(
        f"\nask {QUESTION!r}: {res['runs']} warm runs, window {res['window_seconds']:g} s, "
        f"{res['connect_attempts']} attempts {res['connect_interval']:g} s apart"
    )
    print(f"{'':<22} {'median':>8} {'p95':>8}")
    print(f"{'wall (s)':<22} {res['wall_median_s']:>8.3f} {res['wall_p95_s']:>8.3f}")
    print(
        f"{'overhead > window (s)':<22} {res['overhead_median_s']:>8.3f} {res['overhead_p95_s']:>8.3f}"
        f"   target <= {BUDGET_S:g} s: {'met' if res['meets_target_p95'] else 'MISSED'} (p95)"
    )
    print("\nphases (median s):")
    for k, v in res["phases_median_s"].items():
        print(f"  {k:<24} {v:>8.3f}")
    print("\nverdicts:", *res["verdicts"], sep="\n  ")
    if res["probe_errors"]:
        print("probe errors:", *res["probe_errors"], sep="\n  ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ask.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'ask.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
