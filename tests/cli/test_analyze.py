"""`whycant analyze` on pasted text: the origin case, a single snapshot, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WHYCANT = [sys.executable, "-m", "bot.cli"]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "public"

# What the origin host's `netstat -s` said (net-tools 2.0 wording), twice, 60 s apart.
NETSTAT_S = """\
Ip:
    81290553122 total packets received
Tcp:
    {active} active connections openings
    2960232915 passive connection openings
    1279 failed connection attempts
    1832 connection resets received
TcpExt:
    {cookies_bad} invalid SYN cookies received
    {paws} passive connections rejected because of time stamp
    {drops} SYNs to LISTEN sockets dropped
    {collapsed} packets collapsed in receive queue due to low socket buffer
"""
SYSCTL_CONF = """\
# /etc/sysctl.conf of the origin host
net.ipv4.tcp_tw_recycle = 1
net.ipv4.tcp_tw_reuse = 1
net.ipv4.tcp_timestamps = 1
net.core.somaxconn = 4096
net.ipv4.tcp_max_syn_backlog = 16192
kernel.osrelease = 3.10.0-1160.el7.x86_64
"""


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*WHYCANT, *args], capture_output=True, text=True, input=stdin, timeout=60)


@pytest.fixture
def origin_files(tmp_path):
    before = tmp_path / "before.txt"
    after = tmp_path / "after.txt"
    before.write_text(
        NETSTAT_S.format(active=1000, cookies_bad=3_000_000, paws=1_200_000_000, drops=2_200_000_000, collapsed=900_000)
    )
    after.write_text(
        NETSTAT_S.format(active=1500, cookies_bad=3_000_010, paws=1_200_004_200, drops=2_200_004_300, collapsed=900_020)
    )
    sysctl = tmp_path / "sysctl.conf"
    sysctl.write_text(SYSCTL_CONF)
    return before, after, sysctl


def test_origin_case_pasted_gives_tcp_tw_recycle_first(origin_files):
    before, after, sysctl = origin_files
    r = _run(
        "analyze",
        "--before",
        str(before),
        "--after",
        str(after),
        "--window",
        "60",
        "--sysctl",
        str(sysctl),
        "--mem-gb",
        "512",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ids = [f["id"] for f in out["findings"]]
    assert ids[0] == "tcp-tw-recycle", ids
    assert "backlog-undersized" in ids
    assert out["counters_delta"]["TcpExt.PAWSPassive"] == 4200
    assert out["counters_delta"]["TcpExt.ListenDrops"] == 4300
    recycle = out["findings"][0]
    assert "sysctl -w net.ipv4.tcp_tw_recycle=0" in recycle["fix"]["runtime"]
    assert any("PAWSPassive" in line for line in recycle["evidence"])
    for key in ("incident", "target", "verdict", "findings", "connect", "counters_delta", "probe_errors", "duration_s"):
        assert key in out


def test_single_snapshot_and_stdin(origin_files):
    _before, after, sysctl = origin_files
    r = _run("analyze", "--after", "-", "--sysctl", str(sysctl), "--json", stdin=after.read_text())
    assert r.returncode == 0, r.stderr
    ids = [f["id"] for f in json.loads(r.stdout)["findings"]]
    assert "tcp-tw-recycle" in ids


def test_public_fixture_listen_overflows_text_output():
    f = FIXTURES / "netstat-s" / "zperf-tcpmon-commit52f365d-oldwording-listen-overflows-netstat-s.txt"
    r = _run("analyze", "--after", str(f))
    assert r.returncode == 0, r.stderr
    assert "[listen-queue-overflow]" in r.stdout


@pytest.mark.parametrize(
    "args, stdin, needle",
    [
        (["--before", "/nonexistent/x"], None, "--before /nonexistent/x: cannot read"),
        (["--after", "-"], "<html><body>502 Bad Gateway</body></html>", "cannot parse --after"),
        (["--after", "-"], "netstat: invalid option -- 's'\nusage: netstat [-vWeenNcCF]", "cannot parse --after"),
        (["--listeners", "-"], "\x00\x01\x02garbage", "cannot parse"),
        ([], None, "needs a pasted FILE (or - for standard input) or one of --before"),
        (["--sysctl", "-", "--port", "70000"], "a = 1", "--port 70000 is not in 1..65535"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(args, stdin, needle):
    r = _run("analyze", *args, stdin=stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


SESSION = """\
[root@web01 ~]# netstat -s | grep -i listen
    12 SYNs to LISTEN sockets dropped
[root@web01 ~]# sleep 60; netstat -s | grep -i listen
    9 times the listen queue of a socket overflowed
    21 SYNs to LISTEN sockets dropped
[root@web01 ~]# cat /proc/sys/net/core/somaxconn
2
some words nobody printed
"""


def test_positional_paste_from_stdin_reports_what_it_ignored():
    r = _run("analyze", "-", "--json", stdin=SESSION)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counters_delta"] == {"TcpExt.ListenOverflows": 9, "TcpExt.ListenDrops": 9}
    assert "listen-queue-overflow" in [f["id"] for f in out["findings"]]
    assert "analyze: ignored 1 line: line 8: 'some words nobody printed'" in r.stderr
    assert "analyze: skipped 3 command lines" in r.stderr


def test_positional_files_combine_with_flags(tmp_path, origin_files):
    _before, after, sysctl = origin_files
    paste = tmp_path / "paste.txt"
    paste.write_text(after.read_text())
    r = _run("analyze", str(paste), "--sysctl", str(sysctl), "--json")
    assert r.returncode == 0, r.stderr
    assert "tcp-tw-recycle" in [f["id"] for f in json.loads(r.stdout)["findings"]]


@pytest.mark.parametrize(
    "args, stdin, needle",
    [
        (["-"], "hello\nworld\n", "nothing recognised in the paste (first line 'hello'); expected netstat -s"),
        (["-"], "", "standard input is empty"),
        (["-", "--after", "-"], "x", "standard input (-) can be read only once"),
        (["/nonexistent/paste.txt"], None, "/nonexistent/paste.txt: cannot read"),
    ],
)
def test_paste_refusals_exit_2_with_one_clear_line(args, stdin, needle):
    r = _run("analyze", *args, stdin=stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr
