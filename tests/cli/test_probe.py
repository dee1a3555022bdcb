"""`whycant probe HOST`: versioned evidence with T0/T1 counters and deltas, per probe timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "probe", *args], capture_output=True, text=True, timeout=60)


def test_probe_localhost_json():
    r = _probe("localhost", "--json", "--window", "0.2")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["version"] == 1 and ev["partial"] is False and ev["probe_errors"] == []
    t = ev["target"]
    assert t["counters_t0"]["TcpExt.ListenOverflows"] >= 0 and "Tcp.ActiveOpens" in t["counters_t1"]
    assert set(t["counters_delta"]) <= set(t["counters_t0"])
    assert 0.15 <= t["window_s"] < 5
    assert t["sysctls"]["net.core.somaxconn"] > 0
    assert isinstance(t["sysctls"]["net.ipv4.ip_local_port_range"], list)
    assert t["facts"]["os"] == "Linux" and t["facts"]["mem_total_kb"] > 0 and t["facts"]["cpus"] >= 1
    probes = {p["probe"] for p in t["probes"]}
    assert {"counters_t0", "counters_t1", "sysctls", "listeners", "facts"} <= probes
    assert all(p["error"] is None and p["duration_s"] >= 0 for p in t["probes"])


@pytest.mark.parametrize("host", ["nosuchhost", "8.8.8.8", "localhost;id", "$(id)"])
def test_probe_refuses_hosts_outside_the_inventory(host):
    r = _probe(host)
    assert r.returncode == 2
    assert "not in the inventory" in r.stderr or "not a valid" in r.stderr or "inventory" in r.stderr
