"""Watch mode (issue 13, docs/watch.md): what a quiet watch costs, and how fast a fault becomes an episode.

In the lab (db01 with a listener; vantages bot, office, dc over pooled SSH), one ``WatchRunner``:

- **quiet round**: ``step()`` with every vantage fine — one connect attempt from each vantage
  (remote ones run the fixed connect script over the pooled connection); median and p95;
- **counter sample**: the target's counters (and conntrack stats) over the pooled connection;
- **CPU**: this process's CPU seconds per quiet round, scaled to one watch-hour at the default
  10 s interval (360 rounds);
- **fault to episode**: an nftables drop for office switched on; time until the episode is
  posted with its findings (the failed round plus the full collection), over ``--faults`` faults.

Writes ``bench/results/watch.json``. Lab addresses only; bounded loops; the lab is torn down by
the names and PIDs it created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bench.bench_probe import RESULTS, lab_config, lab_or_exit, load_average, machine, summary

PORT = 5432


class _Sink:
    def __init__(self) -> None:
        self.episodes: list[tuple[float, dict]] = []

    async def started(self, ev: dict) -> None:
        return None

    async def episode(self, ev: dict, post_ts: str | None) -> None:
        self.episodes.append((time.monotonic(), ev))

    async def recovered(self, ev: dict, post_ts: str | None) -> None:
        return None

    async def summary(self, ev: dict, png: bytes | None) -> None:
        return None


async def bench(lab: Any, cfg: Any, rounds: int, faults: int) -> dict[str, Any]:
    from datetime import datetime, timedelta, timezone

    from bot.service import Whycant
    from bot.watch.limits import SynBudget
    from bot.watch.manager import resolve_watch_request
    from bot.watch.runner import WatchRunner, WatchSettings
    from bot.watch.store import WatchRecord

    svc = await Whycant.create(cfg, storage=False)
    sink = _Sink()
    try:
        req, _d, _i = resolve_watch_request(svc, f"db01:{PORT} from office and dc")
        now = datetime.now(timezone.utc)
        rec = WatchRecord(
            id=1,
            host="db01",
            address=req.address,
            port=PORT,
            request=req,
            interval_s=1.0,
            status="active",
            started_at=now,
            ends_at=now + timedelta(hours=1),
            askers=[],
            channel=None,
            thread_ts=None,
            owner="bench",
            heartbeat_at=now,
            stats={},
            episodes=[],
        )
        runner = WatchRunner(
            svc, rec, sink, budget=SynBudget(100000), settings=WatchSettings(counters_s=3600), store=None
        )
        await runner.step()  # warm: SSH connections opened and pooled
        quiet, cpu = [], []
        for _ in range(rounds):
            c0, t0 = time.process_time(), time.monotonic()
            await runner.round()
            quiet.append(time.monotonic() - t0)
            cpu.append(time.process_time() - c0)
        samples = []
        for _ in range(max(3, rounds // 5)):
            t0 = time.monotonic()
            await runner.sample_counters()
            samples.append(time.monotonic() - t0)
        to_episode, ids = [], []
        for _ in range(faults):
            lab.nft_drop_from("db01", "office1", PORT)
            t0 = time.monotonic()
            n = len(sink.episodes)
            for _ in range(20):  # bounded: at most 20 rounds per fault
                await runner.step()
                if len(sink.episodes) > n:
                    break
            if len(sink.episodes) > n:
                to_episode.append(sink.episodes[-1][0] - t0)
                ids.append([f["id"] for f in sink.episodes[-1][1]["findings"]])
            lab.exec("db01", "nft", "delete", "table", "inet", lab.nft_table)
            for _ in range(5):
                await runner.step()
                if runner.tracker.current is None:
                    break
        cpu_round = sum(cpu) / len(cpu)
        return {
            "quiet_round": summary(quiet),
            "counter_sample": summary(samples),
            "cpu_ms_per_round": round(cpu_round * 1000, 2),
            "cpu_s_per_watch_hour_at_10s": round(cpu_round * 360, 2),
            "fault_to_episode": summary(to_episode) if to_episode else None,
            "episode_findings": ids,
            "vantages": [v.name for v in runner.vantages],
        }
    finally:
        await svc.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--faults", type=int, default=3)
    args = ap.parse_args(argv)
    if not 1 <= args.rounds <= 1000 or not 0 <= args.faults <= 20:
        ap.error("--rounds 1..1000, --faults 0..20")
    load_before = load_average()
    with lab_or_exit() as lab:
        lab.listener("db01", PORT)
        cfg = lab_config(lab, window_seconds=1, connect_attempts=3, connect_timeout=1)
        res = asyncio.run(bench(lab, cfg, args.rounds, args.faults))
    res.update(machine(), load_before=load_before, load_after=load_average())
    print(f"load average before {load_before}, after {res['load_after']} ({res['cpus']} CPUs)")
    for k in ("quiet_round", "counter_sample", "fault_to_episode"):
        print(f"{k:<18} {res[k]}")
    print(
        f"CPU per quiet round {res['cpu_ms_per_round']} ms; per watch-hour at 10 s: "
        f"{res['cpu_s_per_watch_hour_at_10s']} s; findings per fault: {res['episode_findings']}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "watch.json").write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {RESULTS / 'watch.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
