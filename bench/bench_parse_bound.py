"""Issue 11: parse time is bounded by the output cap. ``python -m bench.bench_parse_bound [--mib 1]``

Every probe output is cut at ``ssh.max_output_bytes`` (1 MiB by default) before it is parsed, and every
parser is linear in its input, so the cap bounds parse time too. This measures the worst case: each
parser the live probes use, on --mib MiB of hostile input (random printable garbage, one endless line,
a flood of well-formed rows, a header with a huge number of fields). Prints the worst time per parser and
writes ``bench/results/parse-bound.json``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probes.parsers import counters as pc
from probes.parsers import facts as pf
from probes.parsers import softnet as psn
from probes.parsers import ss as pss
from probes.parsers import sysctl as psys

RESULTS = Path(__file__).resolve().parent / "results"

PARSERS: dict[str, Callable[[str], Any]] = {
    "proc_netstat": lambda t: pc.parse_proc_netstat(t, probe="bench"),
    "counters (netstat -s / nstat)": lambda t: pc.parse_counters(t, probe="bench"),
    "ss -ltn": pss.parse_ss_listen,
    "netstat -lnt": pss.parse_netstat_listen,
    "sysctl -a": lambda t: psys.parse_sysctl_a(t, probe="bench"),
    "sockstat": pf.parse_sockstat,
    "softnet_stat": psn.parse_softnet_stat,
}


def hostile_inputs(size: int) -> dict[str, str]:
    rnd = random.Random(1)
    alphabet = string.ascii_letters + " :=\t0123456789.-[]"
    line = lambda n: "".join(rnd.choice(alphabet) for _ in range(n))  # noqa: E731
    return {
        "garbage": "\n".join(line(80) for _ in range(size // 81)),
        "one line": "x" * size,
        "row flood": "".join(f"LISTEN 0 4096 198.18.0.{i % 250}:{i % 65535} 0.0.0.0:*\n" for i in range(size // 40)),
        "wide header": "TcpExt: "
        + " ".join(f"K{i}" for i in range(size // 16))
        + "\nTcpExt: "
        + " ".join("1" for _ in range(size // 16))
        + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=float, default=1.0, help="input size (the default output cap is 1 MiB)")
    args = ap.parse_args(argv)
    inputs = hostile_inputs(int(args.mib * (1 << 20)))
    rows = {}
    for name, parse in PARSERS.items():
        worst, worst_input = 0.0, ""
        for kind, text in inputs.items():
            t0 = time.perf_counter()
            try:
                parse(text)
            except Exception:  # noqa: BLE001 - a refusal is a fine outcome; only the time matters here
                pass
            took = time.perf_counter() - t0
            if took > worst:
                worst, worst_input = took, kind
        rows[name] = {"worst_ms": round(worst * 1000, 1), "input": worst_input}
        print(f"{name:32s} worst {worst * 1000:7.1f} ms ({worst_input})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "parse-bound.json").write_text(json.dumps({"mib": args.mib, "parsers": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
