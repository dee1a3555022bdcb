"""Probe benchmark: one host's probes and 3-vantage evidence, cold vs warm (issue 2, docs/architecture.md §Scale and operations).

    python -m bench.bench_probe [--runs 15] [--attempts 3]

In the network-namespace lab (real sshd in real namespaces; needs root, see tests/lab/README.md):

* **probe**: ``Collector.snapshot(db01)`` -- counters, sysctls, listeners and facts of one host
  (what ``whycant probe db01`` collects);
* **evidence**: ``Collector.collect(db01:5432 from bot, office, dc)`` with ``window_seconds=0`` --
  counters T0, connect tests from the 3 vantages (and the target's own loopback), sysctls,
  listeners and facts, counters T1 -- so it measures probe cost, not the deliberate window.

each **cold** (a fresh SSHTransport per run: TCP connect, key exchange and auth to every host it
touches) and **warm** (one transport, pooled connections already open), median and p95 over
``--runs`` runs, plus a breakdown per probe (``ProbeRecord.duration_s``) and per vantage
(``ConnectResult.duration_s``). The connect tests make ``--attempts`` attempts ``--interval`` s
apart (that spacing is deliberate and included). Prints tables and writes
``bench/results/probe.json``. Lab addresses only; bounded loops; the lab is torn down by the names
and PIDs it created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PORT = 5432


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank, q in 0..1) of *values*."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(q * len(s) + 0.4999)) - 1))
    return s[k]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(pct(values, 0.95) * 1000, 1),
        "min_ms": round(min(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def lab_or_exit():
    """A started Lab, or SystemExit with the reason the lab cannot run here."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.lab.lab import Lab, lab_unavailable_reason

    reason = lab_unavailable_reason()
    if reason:
        raise SystemExit(f"the lab cannot run here: {reason} (run as root with ip, nft and sshd installed)")
    return Lab()


def lab_config(lab, **probe: Any):
    from bot.config import parse_config

    raw = lab.whycant_config()
    raw["probe"].update(probe)
    return parse_config(raw, source="bench")


def plan(cfg):
    """(target Host, [VantagePoint bot, office, dc], Request db01:PORT) from a lab config."""
    from bot.service import Whycant
    from probes.evidence import Request

    svc = Whycant(cfg, transports=None, rules=[])  # inventory and vantage planning only
    target = svc.inventory.resolve("db01")
    req = Request(
        text=f"db01:{PORT}", target=target.name, address=target.address, port=PORT, vantages=["bot", "office", "dc"]
    )
    return target, svc.vantages_for(req), req, svc


def breakdown_of(ev) -> dict[str, float]:
    """probe name -> seconds (target probes, then connect:VANTAGE)."""
    out: dict[str, float] = {}
    host_ev = ev.target if hasattr(ev, "target") else ev
    if host_ev is not None:
        for p in host_ev.probes:
            name = p.probe
            n = 2
            while name in out:  # listeners run twice in collect
                name = f"{p.probe}#{n}"
                n += 1
            out[name] = p.duration_s
    for c in getattr(ev, "connect", []) or []:
        out[f"connect:{c.vantage}"] = c.duration_s
    return out


def errors_of(ev) -> list[str]:
    host_ev = ev.target if hasattr(ev, "target") else ev
    errs = [f"{p.probe}: {p.error}" for p in (host_ev.probes if host_ev is not None else []) if p.error]
    errs += [f"connect:{c.vantage}: {c.error}" for c in getattr(ev, "connect", []) or [] if c.error]
    return errs


async def bench(cfg, runs: int) -> dict[str, Any]:
    from bot.service import probe_settings
    from probes.collect import Collector, TransportSet
    from probes.transports.ssh import SSHTransport

    target, vps, req, _svc = plan(cfg)
    settings = probe_settings(cfg)
    times: dict[str, list[float]] = {k: [] for k in ("probe_cold", "probe_warm", "evidence_cold", "evidence_warm")}
    probes: dict[str, dict[str, list[float]]] = {k: {} for k in times}
    errors: list[str] = []
    connects: dict[str, int] = {}

    def note(kind: str, secs: float, ev) -> None:
        times[kind].append(secs)
        for name, d in breakdown_of(ev).items():
            probes[kind].setdefault(name, []).append(d)
        errors.extend(f"{kind}: {e}" for e in errors_of(ev))

    async def once(kind: str, col: Collector) -> None:
        t = time.perf_counter()
        if kind.startswith("probe"):
            ev = await col.snapshot(target)
        else:
            ev = await col.collect(req, target, vps)
        note(kind, time.perf_counter() - t, ev)

    # cold: a fresh transport (fresh handshakes) for every run
    for kind in ("probe_cold", "evidence_cold"):
        for _ in range(runs):
            ts = TransportSet(ssh=SSHTransport(cfg.ssh))
            try:
                await once(kind, Collector(ts, settings))
                connects[kind] = connects.get(kind, 0) + ts.ssh.connects
            finally:
                await ts.close()

    # warm: one transport; its connections opened (and SFTP sessions started) by one untimed run each
    ts = TransportSet(ssh=SSHTransport(cfg.ssh))
    try:
        col = Collector(ts, settings)
        await col.snapshot(target)
        await col.collect(req, target, vps)
        before = ts.ssh.connects
        for _ in range(runs):
            await once("probe_warm", col)
            await once("evidence_warm", col)
        connects["warm"] = ts.ssh.connects - before
    finally:
        await ts.close()

    return {
        "runs": runs,
        "summary": {k: summary(v) for k, v in times.items()},
        "probes_median_ms": {
            k: {p: round(statistics.median(d) * 1000, 1) for p, d in v.items()} for k, v in probes.items()
        },
        "ssh_connects": connects,
        "errors": sorted(set(errors))[:20],
    }


def print_tables(res: dict[str, Any]) -> None:
    s = res["summary"]
    print(
        f"\n{'what':<26} {'cold median':>12} {'cold p95':>9} {'warm median':>12} {'warm p95':>9}   (ms, n={res['runs']})"
    )
    for what, key in (("probe one host", "probe"), ("evidence, 3 vantages", "evidence")):
        c, w = s[f"{key}_cold"], s[f"{key}_warm"]
        print(f"{what:<26} {c['median_ms']:>12.1f} {c['p95_ms']:>9.1f} {w['median_ms']:>12.1f} {w['p95_ms']:>9.1f}")
    for key in ("probe", "evidence"):
        cold, warm = res["probes_median_ms"][f"{key}_cold"], res["probes_median_ms"][f"{key}_warm"]
        print(f"\n{key}: per probe (median ms)    {'cold':>8} {'warm':>8}")
        for name in list(dict.fromkeys([*cold, *warm])):
            print(f"  {name:<28} {cold.get(name, float('nan')):>8.1f} {warm.get(name, float('nan')):>8.1f}")
    if res["errors"]:
        print("\nprobe errors:", *res["errors"], sep="\n  ")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--attempts", type=int, default=3, help="connect attempts per vantage")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between connect attempts")
    args = ap.parse_args(argv)
    if not 1 <= args.runs <= 500:
        ap.error("--runs must be 1..500")
    load_before = load_average()
    with lab_or_exit() as lab:
        lab.listener("db01", PORT)
        cfg = lab_config(
            lab, window_seconds=0, connect_attempts=args.attempts, connect_interval=args.interval, connect_timeout=1
        )
        res = asyncio.run(bench(cfg, args.runs))
    res.update(
        machine(),
        load_before=load_before,
        load_after=load_average(),
        settings={"window_seconds": 0, "connect_attempts": args.attempts, "connect_interval": args.interval},
    )
    print(f"load average before {load_before}, after {res['load_after']} ({res['cpus']} CPUs)")
    print_tables(res)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "probe.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'probe.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
