"""Every fixture file (public and captured) goes through the right parser, with real values read from it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from probes.evidence import Listener
from probes.parsers import counters, facts, ss, sysctl
from tests.parsers.conftest import CAPTURED, FIXTURES, PUBLIC, read

PN = "public/proc-net-netstat/"
PS = "public/proc-net-snmp/"
NS = "public/netstat-s/"
NT = "public/nstat/"
SS = "public/ss/"
NL = "public/netstat-listen/"
CT = "public/conntrack/"
SK = "public/proc-net-sockstat/"
SY = "public/sysctl/"
CAP = "captured/debian12-kernel6.18-"


def _group_size(d: dict[str, int], group: str) -> int:
    return sum(1 for k in d if k.split(".", 1)[0] == group)


# ---------------------------------------------------------------- counter expectations
# file -> (parser, parsed format, expected values, keys that must be absent, {group: field count})
COUNTERS: dict[str, tuple[Callable[[str], dict[str, int]], str, dict[str, int], set[str], dict[str, int]]] = {
    PN + "node_exporter-proc-net-netstat-pre4.12-kernel.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.PAWSPassive": 0,
            "TcpExt.PAWSEstab": 6,
            "TcpExt.SyncookiesFailed": 2,
            "TcpExt.TCPRcvQDrop": 131,
            "TcpExt.TCPPrequeued": 80568,
        },
        {"TcpExt.TCPLossProbes", "MPTcpExt.MPCapableSYNRX"},
        {},
    ),
    PN + "prometheus-procfs-proc-26231-net-netstat-EDITED-upstream.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.TCPTimeWaitOverflow": 3,
            "TcpExt.TCPAbortOnMemory": 6,
            "TcpExt.TCPBacklogDrop": 6,
            "TcpExt.PAWSEstab": 3640,
            "TcpExt.EmbryonicRsts": 1,
        },
        {"TcpExt.PAWSPassive"},
        {},
    ),
    PN + "pcp-qa-procnet-4.15.14-root-001-netstat.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.ListenOverflows": 90,
            "TcpExt.ListenDrops": 90,
            "TcpExt.IPReversePathFilter": 84960,
            "TcpExt.TCPDeferAcceptDrop": 149,
            "TcpExt.TCPAbortOnData": 464093,
            "TcpExt.EmbryonicRsts": 163,
        },
        {"TcpExt.PAWSPassive"},
        {},
    ),
    PN + "pcp-qa-proc_net_netstat-union-header-SYNTHETIC-VALUES.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.SyncookiesSent": 1,
            "TcpExt.ListenOverflows": 19,
            "TcpExt.ListenDrops": 20,
            "TcpExt.PAWSPassive": 128,
            "IpExt.InNoRoutes": 1,
            "MPTcpExt.MPCapableSYNRX": 1,
        },
        set(),
        {"MPTcpExt": 77},
    ),
    PN + "jc-linux-proc-net_netstat.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"TcpExt.ListenOverflows": 0, "MPTcpExt.MPCapableSYNRX": 0},
        {"TcpExt.PAWSPassive"},
        {"MPTcpExt": 13},
    ),
    PN + "datadog-integrations-core-network-net-netstat-kernel5x.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.PruneCalled": 422,
            "TcpExt.TCPRcvCollapsed": 201,
            "TcpExt.PAWSEstab": 127,
            "IpExt.InNoRoutes": 6,
            "TcpExt.TCPDSACKIgnoredDubious": 0,
        },
        {"TcpExt.PAWSPassive"},
        {"MPTcpExt": 22},
    ),
    PN + "zperf-tcpmon-proc-net-netstat-kernel6x.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"TcpExt.TCPMigrateReqSuccess": 0, "TcpExt.TCPPLBRehash": 0, "TcpExt.TCPSynRetrans": 1031},
        {"TcpExt.PAWSPassive"},
        {"MPTcpExt": 57},
    ),
    PN + "insights-core-rhel7-kernel3.10-proc-net-netstat-PARTLY-EDITED-VALUES.txt": (
        counters.parse_proc_netstat,
        "proc",
        {
            "TcpExt.PAWSPassive": 0,
            "TcpExt.TCPWqueueTooBig": 10,
            "TcpExt.SyncookiesFailed": 30,
            "TcpExt.EmbryonicRsts": 40,
            "TcpExt.TCPDeferAcceptDrop": 5625,
            "IpExt.InNoRoutes": 100,
        },
        {"MPTcpExt.MPCapableSYNRX"},
        {},
    ),
    PS + "pcp-qa-procnet-snmp-kernel-2.6.32.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Tcp.MaxConn": -1, "Tcp.AttemptFails": 4, "Tcp.OutRsts": 42, "Icmp.OutDestUnreachs": 3038},
        {"Tcp.InCsumErrors", "Udp.InCsumErrors", "Udp.IgnoredMulti"},
        {"Udp": 6},
    ),
    PS + "pcp-qa-procnet-snmp-kernel-3.19.0.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Tcp.AttemptFails": 467387, "Tcp.OutRsts": 618159, "Udp.IgnoredMulti": 0, "Tcp.MaxConn": -1},
        {"Udp.MemErrors"},
        {},
    ),
    PS + "pcp-qa-procnet-snmp-kernel-5.14.0-centos-stream9-SYNTHETIC-VALUES.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Ip.Forwarding": 1, "Icmp.OutRateLimitGlobal": 17, "Icmp.OutRateLimitHost": 18, "Udp.MemErrors": 9},
        set(),
        {},
    ),
    PS + "pcp-qa-proc_net_snmp-recent-kernel-header-SYNTHETIC-VALUES.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Ip.Forwarding": 1, "Ip.OutTransmits": 20},
        set(),
        {},
    ),
    PS + "node_exporter-proc-net-snmp.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Udp.RcvbufErrors": 9, "Tcp.InCsumErrors": 0, "Tcp.MaxConn": -1, "Tcp.AttemptFails": 341},
        {"Udp.IgnoredMulti"},
        {},
    ),
    PS + "prometheus-procfs-proc-26231-net-snmp.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Ip.Forwarding": 2, "Ip.OutNoRoutes": 231, "Tcp.OutRsts": 1038},
        set(),
        {},
    ),
    PS + "sysstat-tests-root1-proc-net-snmp.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Udp.IgnoredMulti": 50, "Tcp.OutRsts": 943},
        {"Udp.MemErrors"},
        {},
    ),
    PS + "datadog-integrations-core-network-net-snmp-kernel5x.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Tcp.EstabResets": 761431, "Tcp.OutRsts": 792992, "Udp.MemErrors": 0, "IcmpMsg.OutType3": 707},
        set(),
        {},
    ),
    PS + "zperf-tcpmon-proc-net-snmp-kernel6x.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Tcp.AttemptFails": 3694, "Tcp.ActiveOpens": 4181, "Icmp.OutRateLimitHost": 0},
        set(),
        {},
    ),
    NS + "insights-core-rhel7-nettools-2.0-20131004git-netstat-s.txt": (
        counters.parse_netstat_s,
        "netstat-s",
        {
            "TcpExt.TCPDeferAcceptDrop": 537,
            "TcpExt.IPReversePathFilter": 1,
            "IpExt.InNoRoutes": 9,
            "Tcp.OutSegs": 2890303,
            "Tcp.RetransSegs": 428,
            "Tcp.InErrs": 0,
            "Ip.FragOKs": 4,
            "Icmp.InDestUnreachs": 107,
            "Icmp.OutDestUnreachs": 254,
            "Icmp.InEchos": 4,
            "Icmp.OutEchos": 3,
            "IcmpMsg.OutType3": 254,
            "TcpExt.TCPPrequeued": 999263,
            "TcpExt.TCPDirectCopyFromBacklog": 8266,
            "Udp.NoPorts": 107,
            "TcpExt.TCPHPHitsToUser": 339500,
        },
        {"TcpExt.ListenOverflows", "TcpExt.ListenDrops"},
        {"UdpLite": 0},
    ),
    NS + "zperf-tcpmon-commit52f365d-oldwording-listen-overflows-netstat-s.txt": (
        counters.parse_netstat_s,
        "netstat-s",
        {
            "TcpExt.ListenOverflows": 379435,
            "TcpExt.ListenDrops": 379436,
            "TcpExt.SyncookiesFailed": 3,
            "TcpExt.EmbryonicRsts": 43575,
            "TcpExt.TCPSynRetrans": 19293870,
            "Udp.IgnoredMulti": 368716,
            "TcpExt.PAWSEstab": 277,
            "TcpExt.TCPAckCompressed": 4,
            "Ip.OutNoRoutes": 56,
            "Ip.ReasmFails": 3,
            "TcpExt.TCPSACKReorder": 49,
            "TcpExt.DelayedACKLost": 1589477,
        },
        set(),
        {},
    ),
    NS + "zperf-tcpmon-commit91c4bc1parent-oldwording-udp-rcvbuferrors-netstat-s.txt": (
        counters.parse_netstat_s,
        "netstat-s",
        {
            "Udp.InErrors": 68957158,
            "Udp.RcvbufErrors": 68957158,
            "TcpExt.ListenOverflows": 981,
            "TcpExt.ListenDrops": 981,
            "TcpExt.PAWSEstab": 125745,
            "TcpExt.TWRecycled": 7,
            "Ip.InHdrErrors": 2,
            "Ip.InAddrErrors": 13,
            "Icmp.InRedirects": 77,
            "TcpExt.TCPTSReorder": 624427,
        },
        set(),
        {},
    ),
    NT + "kernel-doc-snmp_counter-listenoverflows-kernel4.15-nstat-delta.txt": (
        counters.parse_nstat,
        "nstat",
        {"TcpExt.ListenOverflows": 4, "TcpExt.ListenDrops": 4, "Tcp.InSegs": 4, "IpExt.InOctets": 240},
        set(),
        {},
    ),
    NT + "kernel-doc-snmp_counter-ping-nstat-delta.txt": (
        counters.parse_nstat,
        "nstat",
        {"Icmp.InEchoReps": 1, "IcmpMsg.InType0": 1, "IcmpMsg.OutType8": 1, "Icmp.OutEchos": 1},
        set(),
        {},
    ),
    NT + "kernel-doc-snmp_counter-forwarding-innoroutes-nstat-delta.txt": (
        counters.parse_nstat,
        "nstat",
        {"IpExt.InNoRoutes": 1, "Icmp.OutDestUnreachs": 1, "IcmpMsg.OutType3": 1},
        set(),
        {},
    ),
    CAP + "proc-net-netstat.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"TcpExt.TW": 55, "TcpExt.TCPRcvCoalesce": 3376, "TcpExt.ListenOverflows": 0},
        {"TcpExt.PAWSPassive"},
        {},
    ),
    CAP + "proc-net-snmp.txt": (
        counters.parse_proc_netstat,
        "proc",
        {"Tcp.AttemptFails": 11, "Tcp.OutRsts": 34, "Tcp.MaxConn": -1, "Ip.Forwarding": 2},
        set(),
        {},
    ),
    CAP + "proc-net-snmp6.txt": (counters.parse_snmp6, "nstat", {"Ip6.InReceives": 1}, set(), {}),
    CAP + "nstat-asz.txt": (
        counters.parse_nstat,
        "nstat",
        {"Tcp.AttemptFails": 11, "Tcp.OutRsts": 34, "TcpExt.TCPRcvCoalesce": 3376, "Ip6.InReceives": 1},
        {"Tcp.MaxConn"},
        {},
    ),
    CAP + "netstat-s.txt": (
        counters.parse_netstat_s,
        "netstat-s",
        {
            "Tcp.OutSegs": 2979,
            "Tcp.RetransSegs": 0,
            "Ip.Forwarding": 2,
            "TcpExt.TcpTimeoutRehash": 2,
            "IcmpMsg.InType3": 1,
        },
        {"TcpExt.ListenOverflows"},
        {},
    ),
}


@pytest.mark.parametrize("rel", sorted(COUNTERS))
def test_counter_fixture(rel: str) -> None:
    parser, fmt, expected, absent, group_sizes = COUNTERS[rel]
    text = read(rel)
    got = parser(text)
    assert all(isinstance(v, int) for v in got.values())
    assert all(k.count(".") == 1 for k in got)
    for key, value in expected.items():
        assert got.get(key) == value, key
    assert not absent & set(got)
    for group, size in group_sizes.items():
        assert _group_size(got, group) == size, group
    assert counters.detect_counter_format(text) == fmt
    assert counters.parse_counters(text) == got


def test_netstat_s_fixtures_have_no_unrecognised_lines() -> None:
    for rel, (parser, *_rest) in COUNTERS.items():
        if parser is counters.parse_netstat_s:
            assert counters.scan_netstat_s(read(rel))[1] == [], rel


# ---------------------------------------------------------------- listeners
# file -> (parser, count, sample listeners that must be present)
L = Listener
LISTENERS: dict[str, tuple[Callable[[str], list[Listener]], int, list[Listener]]] = {
    SS + "datadog-integrations-core-network-ss_ipv4_tcp.txt": (
        ss.parse_ss_listen,
        2,
        [
            L(local_address="127.0.0.1", port=8400, recv_q=0, send_q=128),
            L(local_address="*", port=6384, recv_q=0, send_q=128),
        ],
    ),
    SS + "datadog-integrations-core-network-ss_ipv6_tcp.txt": (
        ss.parse_ss_listen,
        1,
        [L(local_address="::", port=9200, recv_q=0, send_q=50, family="inet6")],
    ),
    SS + "jc-centos-7.7-ss-a.txt": (
        ss.parse_ss_listen,
        4,
        [
            L(local_address="127.0.0.1", port=25, recv_q=0, send_q=100),
            L(local_address="*", port=22, recv_q=0, send_q=128),
            L(local_address="::1", port=25, recv_q=0, send_q=100, family="inet6"),
            L(local_address="::", port=22, recv_q=0, send_q=128, family="inet6"),
        ],
    ),
    SS + "jc-ubuntu-18.04-ss-a.txt": (
        ss.parse_ss_listen,
        4,
        [
            L(local_address="127.0.0.53", port=53, recv_q=0, send_q=128, interface="lo"),
            L(local_address="127.0.0.1", port=35485, recv_q=0, send_q=128),
        ],
    ),
    SS + "jc-ubuntu-18.04-ss-tulpen.txt": (
        ss.parse_ss_listen,
        58,
        [
            L(local_address="127.0.0.53", port=53, recv_q=0, send_q=128, interface="lo"),
            L(local_address="0.0.0.0", port=3306, recv_q=0, send_q=80),
            L(local_address="192.168.178.5", port=10050, recv_q=0, send_q=4096),
        ],
    ),
    SS + "jc-generic-ss-wide-iproute2-5x.txt": (
        ss.parse_ss_listen,
        29,
        [
            L(local_address="1.2.1.43", port=443, recv_q=0, send_q=511),
            L(local_address="*", port=6556, recv_q=0, send_q=64),
            L(local_address="::", port=993, recv_q=0, send_q=200, family="inet6"),
        ],
    ),
    SS + "zperf-tcpmon-ss-tanpmio-EXCERPT-100listen-300other-records.txt": (
        ss.parse_ss_listen,
        100,
        [
            L(local_address="127.0.0.1", port=5923, recv_q=0, send_q=1),
            L(local_address="*", port=9091, recv_q=0, send_q=128),
        ],
    ),
    NL + "jc-centos-7.7-netstat-lnp.txt": (
        ss.parse_netstat_listen,
        4,
        [
            L(local_address="::", port=22, recv_q=0, send_q=-1, family="inet6"),
            L(local_address="127.0.0.1", port=25, recv_q=0, send_q=-1),
        ],
    ),
    NL + "jc-ubuntu-18.04-netstat-lnp.txt": (
        ss.parse_netstat_listen,
        4,
        [L(local_address="127.0.0.53", port=53, recv_q=0, send_q=-1)],
    ),
    NL + "jc-generic-netstat-old-nettools.txt": (
        ss.parse_netstat_listen,
        1,
        [L(local_address="0.0.0.0", port=111, recv_q=0, send_q=-1)],
    ),
    CAP + "ss-ltn.txt": (
        ss.parse_ss_listen,
        11,
        [
            L(local_address="127.0.0.1", port=5432, recv_q=0, send_q=244),
            L(local_address="::1", port=6379, recv_q=0, send_q=511, family="inet6"),
        ],
    ),
    CAP + "ss-ltnH.txt": (ss.parse_ss_listen, 11, [L(local_address="0.0.0.0", port=2024, recv_q=0, send_q=128)]),
    CAP + "ss-ltnp.txt": (ss.parse_ss_listen, 11, [L(local_address="127.0.0.1", port=3306, recv_q=0, send_q=80)]),
    CAP + "netstat-lnt.txt": (
        ss.parse_netstat_listen,
        11,
        [L(local_address="127.0.0.1", port=5432, recv_q=0, send_q=-1)],
    ),
}


@pytest.mark.parametrize("rel", sorted(LISTENERS))
def test_listener_fixture(rel: str) -> None:
    parser, count, samples = LISTENERS[rel]
    got = parser(read(rel))
    assert len(got) == count
    for sample in samples:
        assert sample in got, sample


def test_ss_and_netstat_agree_on_this_host() -> None:
    key = lambda ls: sorted((x.local_address, x.port, x.recv_q, x.family) for x in ls)  # noqa: E731
    assert key(ss.parse_ss_listen(read(CAP + "ss-ltn.txt"))) == key(
        ss.parse_netstat_listen(read(CAP + "netstat-lnt.txt"))
    )


# ---------------------------------------------------------------- everything else
def _check_sysctl(expected: dict, absent: set[str]) -> Callable[[str], None]:
    def check(text: str) -> None:
        got = sysctl.parse_sysctl_a(text)
        for k, v in expected.items():
            assert got[k] == v, k
        assert not absent & set(got)

    return check


def _eq(fn: Callable[[str], object], value: object) -> Callable[[str], None]:
    def check(text: str) -> None:
        assert fn(text) == value

    return check


def _subset(fn: Callable[[str], dict], expected: dict) -> Callable[[str], None]:
    def check(text: str) -> None:
        got = fn(text)
        assert {k: got.get(k) for k in expected} == expected

    return check


OTHER: dict[str, Callable[[str], None]] = {
    SY + "jc-centos-7.7-kernel-3.10-sysctl-a.txt": _check_sysctl(
        {
            "kernel.osrelease": "3.10.0-1062.1.2.el7.x86_64",
            "net.ipv4.tcp_tw_recycle": 0,
            "net.core.somaxconn": 128,
            "net.ipv4.tcp_max_syn_backlog": 128,
            "net.netfilter.nf_conntrack_max": 65536,
            "net.ipv4.ip_local_port_range": [32768, 60999],
            "net.ipv4.tcp_rmem": [4096, 87380, 6291456],
            "net.ipv4.tcp_congestion_control": "cubic",
            "kernel.core_pattern": "core",
        },
        set(),
    ),
    SY + "jc-ubuntu-18.04-kernel-4.15-sysctl-a.txt": _check_sysctl(
        {
            "kernel.osrelease": "4.15.0-101-generic",
            "net.ipv4.tcp_tw_reuse": 0,
            "net.core.somaxconn": 128,
            "net.ipv4.tcp_rmem": [4096, 131072, 6291456],
            "kernel.core_pattern": "|/usr/share/apport/apport %p %s %c %d %P %E",
        },
        {"net.ipv4.tcp_tw_recycle"},
    ),
    CAP + "sysctl-a-net.txt": _check_sysctl(
        {
            "kernel.osrelease": "6.18.44-fc-v657",
            "net.core.somaxconn": 4096,
            "net.ipv4.tcp_max_syn_backlog": 2048,
            "net.ipv4.tcp_rmem": [4096, 131072, 33554432],
            "net.ipv4.tcp_congestion_control": "bbr",
            "net.netfilter.nf_conntrack_max": 262144,
        },
        {"net.ipv4.tcp_tw_recycle"},
    ),
    "public/ss-s/kernel-doc-snmp_counter-orphan-test-ss-s.txt": _subset(
        ss.parse_ss_summary,
        {
            "total": 131,
            "kernel": 0,
            "tcp": 14,
            "estab": 1,
            "orphaned": 10,
            "synrecv": 0,
            "timewait": 0,
            "ports": 0,
            "TCP.ip": 13,
            "TCP.ipv6": 1,
            "RAW.ipv6": 1,
        },
    ),
    CAP + "ss-s.txt": _subset(
        ss.parse_ss_summary,
        {"tcp": 16, "estab": 2, "closed": 3, "orphaned": 0, "timewait": 2, "TCP.total": 13, "ports": None},
    ),
    SK + "node_exporter-proc-net-sockstat.txt": _subset(
        facts.parse_sockstat,
        {"TCP.inuse": 4, "TCP.orphan": 0, "TCP.tw": 4, "TCP.alloc": 17, "TCP.mem": 1, "sockets.used": 229},
    ),
    SK + "pcp-qa-proc_net_sockstat.txt": _subset(facts.parse_sockstat, {"TCP.orphan": 9, "TCP.inuse": 74}),
    SK + "prometheus-procfs-proc-net-sockstat.txt": _subset(
        facts.parse_sockstat, {"TCP.tw": 4, "UDP.mem": 62, "FRAG.memory": 0}
    ),
    SK + "sysstat-tests-root1-proc-net-sockstat.txt": _subset(
        facts.parse_sockstat, {"sockets.used": 1316, "TCP.tw": 1}
    ),
    CAP + "proc-net-sockstat.txt": _subset(facts.parse_sockstat, {"TCP.inuse": 11, "TCP.mem": 75}),
    CT + "node_exporter-proc-net-stat-nf_conntrack.txt": _subset(
        facts.parse_nf_conntrack_stat,
        {
            "entries": 33,
            "invalid": 3 + 2 + 1 + 0x2F,
            "search_restart": 7,
            "ignore": 0x588A + 0x56A4 + 0x58D4 + 0x5688,
            "drop": 0,
            "early_drop": 0,
            "insert_failed": 0,
        },
    ),
    CAP + "proc-net-stat-nf_conntrack.txt": _subset(
        facts.parse_nf_conntrack_stat, {"clashres": 0, "drop": 0, "chainlength": 0}
    ),
    CT + "node_exporter-proc-sys-net-netfilter-nf_conntrack_count.txt": _eq(
        lambda t: facts.parse_int_file(t, "nf_conntrack_count"), 123
    ),
    CT + "node_exporter-proc-sys-net-netfilter-nf_conntrack_max.txt": _eq(
        lambda t: facts.parse_int_file(t, "nf_conntrack_max"), 65536
    ),
    CAP + "nf_conntrack_count.txt": _eq(lambda t: facts.parse_int_file(t, "nf_conntrack_count"), 0),
    CAP + "proc-meminfo.txt": _eq(facts.parse_meminfo, 24684092),
    CAP + "os-release.txt": _eq(facts.parse_os_release, "Debian GNU/Linux 12 (bookworm)"),
    CAP + "uname-a.txt": _eq(facts.parse_uname, ("Linux", "6.18.44-fc-v657")),
    CAP + "uname-sr.txt": _eq(facts.parse_uname, ("Linux", "6.18.44-fc-v657")),
    CAP + "ip_local_port_range.txt": _eq(facts.parse_port_range, [32768, 60999]),
    CAP + "nproc.txt": _eq(facts.parse_nproc, 2),
}


@pytest.mark.parametrize("rel", sorted(OTHER))
def test_other_fixture(rel: str) -> None:
    OTHER[rel](read(rel))


def test_every_fixture_file_is_covered() -> None:
    files = {
        p.relative_to(FIXTURES).as_posix()
        for d in (PUBLIC, CAPTURED)
        for p in d.rglob("*")
        if p.is_file() and p.suffix != ".md"
    }  # SOURCES.md / README.md document provenance
    covered = set(COUNTERS) | set(LISTENERS) | set(OTHER)
    assert files - covered == set(), "fixture files without a parser test"
    assert covered - files == set(), "tests for missing fixture files"


def test_sources_md_lists_every_public_fixture() -> None:
    sources = read("public/SOURCES.md")
    for p in PUBLIC.rglob("*.txt"):
        assert p.name in sources, p.name


# ---------------------------------------------------------------- cross-checks between formats
def test_this_host_proc_netstat_s_and_nstat_agree() -> None:
    proc = counters.parse_proc_netstat(
        read(CAP + "proc-net-netstat.txt") + read(CAP + "proc-net-snmp.txt") + read(CAP + "proc-net-snmp6.txt")
    )
    nstat = counters.parse_nstat(read(CAP + "nstat-asz.txt"))
    netstat_s = counters.parse_netstat_s(read(CAP + "netstat-s.txt"))
    assert set(netstat_s) <= set(proc)
    # nstat drops the non-counters (RtoAlgorithm, MaxConn, CurrEstab, Forwarding, DefaultTTL)
    assert set(proc) - set(nstat) == {
        "Tcp.RtoAlgorithm",
        "Tcp.RtoMin",
        "Tcp.RtoMax",
        "Tcp.MaxConn",
        "Tcp.CurrEstab",
        "Ip.Forwarding",
        "Ip.DefaultTTL",
    }
    assert set(nstat) <= set(proc)
    # captured seconds apart on an idle host: the connection counters did not move
    for key in ("Tcp.AttemptFails", "Tcp.OutRsts", "Tcp.EstabResets", "TcpExt.TW", "Udp.InDatagrams"):
        assert netstat_s[key] == proc[key] == nstat[key], key


def test_netstat_s_keys_exist_in_proc_files_of_the_same_era() -> None:
    """Every key the old-wording netstat -s fixtures produce is a real kernel counter name.

    (IcmpMsg lists only the ICMP types a host has seen, so it is left out.)
    """
    proc_names: set[str] = set()
    for rel, (parser, *_r) in COUNTERS.items():
        if parser is counters.parse_proc_netstat:
            proc_names |= set(parser(read(rel)))
    for rel, (parser, *_r) in COUNTERS.items():
        if parser is counters.parse_netstat_s:
            keys = {k for k in parser(read(rel)) if not k.startswith("IcmpMsg.")}
            assert keys - proc_names == set(), rel


def test_nstat_keys_match_proc_keys() -> None:
    nstat = counters.parse_nstat(read(NT + "kernel-doc-snmp_counter-listenoverflows-kernel4.15-nstat-delta.txt"))
    proc = counters.parse_proc_netstat(read(PN + "pcp-qa-procnet-4.15.14-root-001-netstat.txt"))
    assert {"TcpExt.ListenOverflows", "TcpExt.ListenDrops", "IpExt.InOctets", "IpExt.InNoECTPkts"} <= set(nstat) & set(
        proc
    )
