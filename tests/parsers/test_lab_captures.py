"""Outputs captured in the lab during a reproduced accept-queue overflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from probes.parsers.counters import parse_counters, parse_netstat_s, parse_nstat, parse_proc_netstat
from probes.parsers.ss import parse_ss_listen

LAB = Path(__file__).resolve().parent.parent / "fixtures" / "lab"


def read(name: str) -> str:
    return (LAB / name).read_text()


def test_overflow_delta_is_the_same_from_proc_and_netstat_s():
    p0 = parse_proc_netstat(read("db01-overflow-before-proc-net-netstat.txt"))
    p1 = parse_proc_netstat(read("db01-overflow-after-proc-net-netstat.txt"))
    n0 = parse_netstat_s(read("db01-overflow-before-netstat-s.txt"))
    n1 = parse_netstat_s(read("db01-overflow-after-netstat-s.txt"))
    d_proc = p1["TcpExt.ListenOverflows"] - p0["TcpExt.ListenOverflows"]
    d_text = n1["TcpExt.ListenOverflows"] - n0.get("TcpExt.ListenOverflows", 0)  # zero lines are omitted
    assert d_proc == d_text == 3
    assert p1["TcpExt.ListenDrops"] - p0["TcpExt.ListenDrops"] == 3


def test_nstat_and_proc_agree_after_the_overflow():
    proc = parse_proc_netstat(read("db01-overflow-after-proc-net-netstat.txt"))
    nstat = parse_nstat(read("db01-overflow-after-nstat-asz.txt"))
    for key in ("TcpExt.ListenOverflows", "TcpExt.ListenDrops"):
        assert nstat[key] == proc[key]
    assert parse_counters(read("db01-overflow-after-nstat-asz.txt")) == nstat


def test_ss_shows_the_full_accept_queue_and_loopback_binds():
    (pg,) = [li for li in parse_ss_listen(read("db01-overflow-ss-ltnH.txt")) if li.port == 5432]
    assert (pg.local_address, pg.recv_q, pg.send_q) == ("0.0.0.0", 3, 2)
    assert pg.recv_q >= pg.send_q and pg.wildcard
    (lo,) = [li for li in parse_ss_listen(read("db01-loopback-only-ss-ltn.txt")) if li.port == 6001]
    assert lo.loopback_only


def test_analyze_on_the_captures_names_listen_queue_overflow():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "analyze",
            "--before",
            str(LAB / "db01-overflow-before-netstat-s.txt"),
            "--after",
            str(LAB / "db01-overflow-after-netstat-s.txt"),
            "--window",
            "2",
            "--listeners",
            str(LAB / "db01-overflow-ss-ltnH.txt"),
            "--port",
            "5432",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["findings"][0]["id"] == "listen-queue-overflow"
    assert any("Recv-Q 3 >= Send-Q 2" in e for e in out["findings"][0]["evidence"])
