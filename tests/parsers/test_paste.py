"""The lenient paste reader: noise skipped, outputs recognised line by line, runs split, refusals clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.paste import read_paste, read_pastes
from probes.errors import BadInput
from probes.parsers.paste import CounterRun, read_paste_text, snapshots, zero_fill

SESSION = """\
[root@web01 ~]# date
Wed Mar  4 10:12:01 UTC 2020
[root@web01 ~]# netstat -s | grep -i listen
    12 SYNs to LISTEN sockets dropped
# that was before the load test
[root@web01 ~]# netstat -s | grep -i listen
    9 times the listen queue of a socket overflowed
    21 SYNs to LISTEN sockets dropped
[...]
$ cat /proc/sys/net/core/somaxconn
128
$ sysctl -n net.ipv4.tcp_max_syn_backlog
512
$ conntrack -C
65536
$ sysctl net.netfilter.nf_conntrack_max
net.netfilter.nf_conntrack_max = 65536
(Not all processes could be identified, non-owned process info
 will not be shown, you would have to be root to see it all.)
$ netstat -lntp
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp      129      0 0.0.0.0:8080            0.0.0.0:*               LISTEN      -
tcp6       0      0 :::22                   :::*                    LISTEN      -
$ ss -ltn
State   Recv-Q  Send-Q   Local Address:Port   Peer Address:Port
LISTEN  0       4096           0.0.0.0:5432        0.0.0.0:*
$ ss -s
Total: 131 (kernel 0)
TCP:   14 (estab 1, closed 0, orphaned 10, synrecv 0, timewait 0/0), ports 0
$ cat /proc/net/sockstat
sockets: used 48476
TCP: inuse 174950 orphan 126800 tw 153787 alloc 174954 mem 102910
$ uptime
 10:22:01 up 35 days,  3:02,  2 users,  load average: 0.00, 0.01, 0.05
this line is nobody's output
"""


def test_session_is_read_whole():
    r = read_paste_text(SESSION)
    assert [run.counters for run in r.counter_runs] == [
        {"TcpExt.ListenDrops": 12},
        {"TcpExt.ListenOverflows": 9, "TcpExt.ListenDrops": 21},
    ]
    assert r.sysctls["net.core.somaxconn"] == 128
    assert r.sysctls["net.ipv4.tcp_max_syn_backlog"] == 512
    assert (r.conntrack_count, r.conntrack_max) == (65536, 65536)
    assert [(li.local_address, li.port, li.recv_q, li.send_q) for li in r.listeners or []] == [
        ("0.0.0.0", 8080, 129, -1),
        ("::", 22, 0, -1),
        ("0.0.0.0", 5432, 0, 4096),
    ]
    assert r.sockstat["orphaned"] == 10 and r.sockstat["TCP.orphan"] == 126800 and r.sockstat["TCP.mem"] == 102910
    assert r.uptime_s == 35 * 86400 + 3 * 3600 + 2 * 60
    assert r.skipped["date lines"] == 1 and r.skipped["elisions"] == 1 and r.skipped["comments"] == 1
    assert r.skipped["warnings"] == 2
    assert r.ignored == [(36, "this line is nobody's output")]


def test_session_evidence_and_notes():
    ev, notes = read_paste(SESSION, host="web01")
    t = ev.target
    assert ev.source == "pasted" and t.host == "web01"
    assert t.counters_t0 == {"TcpExt.ListenDrops": 12, "TcpExt.ListenOverflows": 0}
    assert t.counters_delta == {"TcpExt.ListenOverflows": 9, "TcpExt.ListenDrops": 9}
    assert t.facts.conntrack_count == 65536 and t.facts.uptime_s
    assert 'ignored 1 line: line 36: "this line is nobody\'s output"' in notes
    assert any(n.startswith("skipped ") and "command lines" in n for n in notes)


def test_grep_fragments_of_proc_files_and_nstat_with_elisions():
    text = """$ grep -E '^(Tcp|TcpExt):' /proc/net/netstat /proc/net/snmp | head
/proc/net/snmp:Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens
/proc/net/snmp:Tcp: 1 200 120000 -1 55 3
$ nstat -a
#kernel
TcpExtListenOverflows           9                  0.0
…
TcpExtListenDrops               9                  0.0
"""
    r = read_paste_text(text)
    snaps = snapshots(r.counter_runs)
    assert len(snaps) == 1  # disjoint keys: one snapshot from two outputs
    assert snaps[0].counters["Tcp.PassiveOpens"] == 3 and snaps[0].counters["TcpExt.ListenOverflows"] == 9


def test_two_full_nstat_runs_without_command_lines_are_split_by_the_header():
    text = "#kernel\nTcpExtListenOverflows 3 0.0\n#kernel\nTcpExtListenOverflows 7 0.0\n"
    ev, notes = read_paste(text)
    assert ev.target.counters_delta == {"TcpExt.ListenOverflows": 4}
    assert any("2 counter snapshots" in n for n in notes)


def test_headerless_wordings_go_to_their_section_and_annotations_are_dropped():
    r = read_paste_text("    33861296 packet receive errors    <---- HERE\n    5 passive connection openings\n")
    assert r.counter_runs[0].counters == {"Udp.InErrors": 33861296, "Tcp.PassiveOpens": 5}


def test_zero_fill_only_for_netstat_s_sections_the_before_run_had():
    before = CounterRun("netstat-s", {"Tcp.PassiveOpens": 3}, {"Tcp", "TcpExt"})
    after = CounterRun(
        "netstat-s", {"Tcp.PassiveOpens": 9, "TcpExt.ListenOverflows": 4, "Udp.InErrors": 1}, {"Tcp", "TcpExt", "Udp"}
    )
    assert zero_fill(before, after) == {"Tcp.PassiveOpens": 3, "TcpExt.ListenOverflows": 0}
    nstat_before = CounterRun("nstat", {"Tcp.PassiveOpens": 3})
    assert zero_fill(nstat_before, after) == {"Tcp.PassiveOpens": 3}  # nstat -a prints zeros: absent is unknown


def test_commands_that_set_values_count_as_sysctls():
    r = read_paste_text(
        'sudo bash -c "echo 10 > /proc/sys/net/ipv4/tcp_max_orphans"\n$ sysctl -w net.ipv4.tcp_tw_recycle=1\n'
    )
    assert r.sysctls == {"net.ipv4.tcp_max_orphans": 10, "net.ipv4.tcp_tw_recycle": 1}


def test_kernel_log_lines_are_counted_by_kind():
    r = read_paste_text(
        "[1.2] nf_conntrack: table full, dropping packet\nkernel: possible SYN flooding on port 443. Sending cookies.\n"
    )
    assert r.kernel_log == {"nf_conntrack_table_full": 1, "syn_flooding": 1}


def test_files_are_read_in_order_and_a_file_boundary_ends_an_output():
    before = "Tcp:\n    3 passive connection openings\n"
    after = "Tcp:\n    9 passive connection openings\nTcpExt:\n    4 times the listen queue of a socket overflowed\n"
    ev, _ = read_pastes([before, after])
    assert ev.target.counters_delta == {"Tcp.PassiveOpens": 6}  # TcpExt absent from before: not assumed 0
    assert ev.target.counters_t1["TcpExt.ListenOverflows"] == 4


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "the paste is empty"),
        ("hello\nworld\n", "nothing recognised in the paste (first line 'hello')"),
        ("$ netstat -s\n", "nothing recognised in the paste (skipped 1 command lines)"),
        ("abc\x00def", "binary data"),
    ],
)
def test_refuses_only_when_nothing_is_recognised_and_says_what_it_expected(text, needle):
    with pytest.raises(BadInput) as e:
        read_paste(text)
    assert needle in str(e.value)
    if "nothing recognised" in needle or "empty" in needle:
        assert "expected netstat -s / nstat" in str(e.value)


def test_grep_dot_of_proc_sys_files():
    r = read_paste_text(
        "$ grep . /proc/sys/net/core/somaxconn /proc/sys/net/ipv4/tcp_tw_recycle\n"
        "/proc/sys/net/core/somaxconn:128\n/proc/sys/net/ipv4/tcp_tw_recycle:1\n"
    )
    assert r.sysctls == {"net.core.somaxconn": 128, "net.ipv4.tcp_tw_recycle": 1} and not r.ignored


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WHOLE_OUTPUTS = sorted([*(FIXTURES / "public").rglob("*.txt"), *(FIXTURES / "captured").glob("*.txt")])
# a bare value means nothing without the command line that printed it
BARE_VALUES = {
    "debian12-kernel6.18-ip_local_port_range.txt",
    "debian12-kernel6.18-nf_conntrack_count.txt",
    "debian12-kernel6.18-nproc.txt",
    "node_exporter-proc-sys-net-netfilter-nf_conntrack_count.txt",
    "node_exporter-proc-sys-net-netfilter-nf_conntrack_max.txt",
}


@pytest.mark.parametrize("path", WHOLE_OUTPUTS, ids=[p.name for p in WHOLE_OUTPUTS])
def test_every_whole_output_we_hold_is_read_without_ignored_lines(path):
    r = read_paste_text(path.read_text(errors="replace"))
    if path.name in BARE_VALUES:
        assert r.empty and len(r.ignored) == 1
    else:
        assert not r.empty and r.ignored == []


def test_proc_net_stat_nf_conntrack_table_is_summed_over_cpus():
    r = read_paste_text(
        (FIXTURES / "public" / "conntrack" / "node_exporter-proc-net-stat-nf_conntrack.txt").read_text()
    )
    assert r.conntrack_stats["entries"] == 0x21 and r.conntrack_stats["invalid"] == 53


def test_window_from_date_lines_or_sleep():
    dated = (
        "$ date; netstat -s | grep -i listen\nWed Mar  4 10:12:01 UTC 2020\n    12 SYNs to LISTEN sockets dropped\n"
        "$ date; netstat -s | grep -i listen\nWed Mar  4 10:13:01 UTC 2020\n    21 SYNs to LISTEN sockets dropped\n"
    )
    ev, notes = read_paste(dated)
    assert ev.target.window_s == 60 and "60 s between the two snapshots (from the date lines)" in notes
    assert not any(n.startswith("ignored") for n in notes)
    slept = "$ nstat -az\nTcpExtListenDrops 3 0.0\n$ sleep 30; nstat -az\nTcpExtListenDrops 9 0.0\n"
    ev, notes = read_paste(slept)
    assert ev.target.window_s == 30 and ev.target.counters_delta == {"TcpExt.ListenDrops": 6}
    ev, _ = read_paste("$ nstat -az\nTcpExtListenDrops 3 0.0\n$ nstat -az\nTcpExtListenDrops 9 0.0\n")
    assert ev.target.window_s is None  # no dates, no sleep: the rate is unknown, not invented
