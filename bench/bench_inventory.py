"""Loading a team-sized Ansible inventory: whycant's loader vs the real ``ansible-inventory``.

    python -m bench.bench_inventory [--hosts 5000] [--groups 50] [--runs 5]

Builds, in a temp directory, an INI inventory of N hosts in G groups (each under one of
5 parents, with ranges), ``group_vars/`` for every group (half as files, half as
directories of 2 files), ``host_vars/`` for every 10th host, and a dynamic inventory
script printing the same hosts with ``_meta``. Times (median of --runs):
``load_ansible_inventory`` on the INI tree, on the script, and ``ansible-inventory --list``
on the INI tree when installed. Prints a table, writes ``bench/results/inventory.json``.
No network; everything stays in the temp directory, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.ansible_inventory import load_ansible_inventory
from bot.ansible_inventory.dynamic import ansible_inventory_command

RESULTS = Path(__file__).resolve().parent / "results"


def build(root: Path, hosts: int, groups: int) -> tuple[Path, Path]:
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    per = max(hosts // groups, 1)
    lines, listing, hostvars = [], {}, {}
    for p in range(5):
        lines.append(f"[parent{p}:children]")
        lines += [f"g{g:03d}" for g in range(groups) if g % 5 == p]
        lines.append(f"[parent{p}:vars]\nparent_var=p{p}\n")
    for g in range(groups):
        first, last = g * per, g * per + per - 1
        lines.append(f"[g{g:03d}]\nh[{first:05d}:{last:05d}]\n")
        names = [f"h{i:05d}" for i in range(first, last + 1)]
        listing[f"g{g:03d}"] = {"hosts": names}
        if g % 2:
            (inv / "group_vars" / f"g{g:03d}.yml").write_text(f"whycant_services: {{svc{g}: {1024 + g}}}\n")
        else:
            d = inv / "group_vars" / f"g{g:03d}"
            d.mkdir()
            (d / "10.yml").write_text("ansible_user: probe\n")
            (d / "20.yml").write_text(f"whycant_services: {{svc{g}: {1024 + g}}}\n")
        for i in range(first, last + 1):
            hostvars[f"h{i:05d}"] = {"ansible_host": f"198.18.{i // 250}.{i % 250 + 1}"}
            if i % 10 == 0:
                (inv / "host_vars" / f"h{i:05d}.yml").write_text(f"ansible_host: 198.18.{i // 250}.{i % 250 + 1}\n")
    (inv / "hosts.ini").write_text("\n".join(lines) + "\n")
    script = root / "script" / "inventory.py"
    script.parent.mkdir()
    (script.parent / "list.json").write_text(json.dumps({**listing, "_meta": {"hostvars": hostvars}}))
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "sys.stdout.write(open(__file__[:-len('inventory.py')] + 'list.json').read())\n"
    )
    script.chmod(0o755)
    return inv, script


def timed(fn, runs: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=5000)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="whycant-bench-inv-") as tmp:
        inv, script = build(Path(tmp), a.hosts, a.groups)
        med, n = timed(lambda: len(load_ansible_inventory([inv])), a.runs)
        rows.append({"what": "whycant: INI + group_vars/host_vars", "median_s": med, "hosts": n})
        med, n = timed(lambda: len(load_ansible_inventory([script])), a.runs)
        rows.append({"what": "whycant: dynamic script (--list, _meta)", "median_s": med, "hosts": n})
        cmd = ansible_inventory_command()
        if cmd:

            def ansible() -> int:
                out = subprocess.run([cmd, "-i", str(inv), "--list"], capture_output=True, check=True, timeout=600)
                return len(json.loads(out.stdout)["_meta"]["hostvars"])

            med, n = timed(ansible, max(1, min(a.runs, 3)))
            rows.append({"what": "ansible-inventory --list: same INI tree", "median_s": med, "hosts": n})
    for r in rows:
        print(f"  {r['what']:<45} {r['median_s'] * 1000:9.0f} ms  {r['hosts']} hosts")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inventory.json").write_text(
        json.dumps(
            {
                "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "args": vars(a),
                "rows": rows,
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
                "python": platform.python_version(),
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
