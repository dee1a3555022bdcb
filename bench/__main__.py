"""`python -m bench`: run every benchmark (each also runs alone: `python -m bench.bench_NAME`)."""

from __future__ import annotations

import importlib
import sys

BENCHES = [
    "bench.bench_incidents",
    "bench.bench_probe",
    "bench.bench_ask",
    "bench.bench_sweep",
    "bench.bench_paste",
    "bench.bench_inventory",
    "bench.bench_drop_reasons",
    "bench.bench_load",
    "bench.bench_parse_bound",
]


def main() -> int:
    only = sys.argv[1:]
    rc = 0
    for name in BENCHES:
        if only and name.rsplit(".", 1)[-1] not in only and name not in only:
            continue
        print(f"== {name}", flush=True)
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            print(f"   skipped: {e}")
            continue
        rc |= int(mod.main([]) or 0) if "argv" in mod.main.__code__.co_varnames else int(mod.main() or 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
