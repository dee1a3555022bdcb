"""Issue 10: reading pastes. ``python -m bench.bench_paste [--repeat 5]``

Two numbers, p50/max over --repeat runs: the whole paste corpus (read + diagnose every paste), and one
large session built from every capture in tests/fixtures/captured (``cat`` of each, ×5, ~9,000
lines) read and diagnosed. Prints a table and writes ``bench/results/paste.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bot.engine import diagnose, load_rules
from bot.paste import read_paste
from tests.pastes.corpus import run as run_corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def big_session(copies: int = 5) -> str:
    parts = [f"$ cat {p.name}\n{p.read_text()}" for p in sorted((ROOT / "tests/fixtures/captured").glob("*.txt"))]
    return "\n".join(parts * copies)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    repeat = max(1, min(args.repeat, 50))
    rules = load_rules()
    text = big_session()
    lines = len(text.splitlines())
    corpus = timed(run_corpus, repeat)
    reading = timed(lambda: read_paste(text), repeat)
    evidence, _ = read_paste(text)
    diagnosing = timed(lambda: diagnose(evidence, rules), repeat)
    rows = {
        "corpus (32 pastes, read + diagnose)": corpus,
        f"read_paste, {lines} lines / {len(text) // 1024} KiB": reading,
        "diagnose that evidence": diagnosing,
    }
    print(f"{'what':<45} {'p50 ms':>9} {'max ms':>9}")
    for name, xs in rows.items():
        print(f"{name:<45} {statistics.median(xs) * 1000:9.1f} {max(xs) * 1000:9.1f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "paste.json").write_text(
        json.dumps(
            {
                "repeat": repeat,
                "lines": lines,
                "loadavg": os.getloadavg(),
                "p50_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in rows.items()},
                "max_ms": {k: round(max(v) * 1000, 1) for k, v in rows.items()},
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
