"""Counter parsers: /proc pairs, snmp6, every netstat -s wording generation, nstat, format detection."""

from __future__ import annotations

import pytest

from probes.parsers._netstat_wording import HISTOGRAM_LINES, NUMBER_LINES
from probes.parsers.counters import (
    detect_counter_format,
    parse_counters,
    parse_netstat_s,
    parse_nstat,
    parse_proc_netstat,
    parse_snmp6,
    scan_netstat_s,
    split_mib_name,
)
from tests.parsers.conftest import read


# ---------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TcpExtListenOverflows", ("TcpExt", "ListenOverflows")),
        ("IpExtInNoRoutes", ("IpExt", "InNoRoutes")),
        ("IpInReceives", ("Ip", "InReceives")),
        ("Ip6InReceives", ("Ip6", "InReceives")),
        ("IcmpInMsgs", ("Icmp", "InMsgs")),
        ("IcmpMsgInType3", ("IcmpMsg", "InType3")),
        ("Icmp6OutType133", ("Icmp6", "OutType133")),
        ("TcpInSegs", ("Tcp", "InSegs")),
        ("UdpInDatagrams", ("Udp", "InDatagrams")),
        ("Udp6InDatagrams", ("Udp6", "InDatagrams")),
        ("UdpLiteInDatagrams", ("UdpLite", "InDatagrams")),
        ("UdpLite6InDatagrams", ("UdpLite6", "InDatagrams")),
        ("MPTcpExtMPCapableSYNRX", ("MPTcpExt", "MPCapableSYNRX")),
        ("TcpExtTCPReqQFullDrop", ("TcpExt", "TCPReqQFullDrop")),
        ("XfrmInError", None),
        ("Tcp", None),
        ("Ipsum", None),
    ],
)
def test_split_mib_name(name: str, expected: tuple[str, str] | None) -> None:
    assert split_mib_name(name) == expected


# ---------------------------------------------------------------- /proc
def test_proc_keeps_maxconn_minus_one_and_forwarding() -> None:
    text = "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn\nTcp: 1 200 120000 -1\nIp: Forwarding DefaultTTL\nIp: 2 64\n"
    assert parse_proc_netstat(text) == {
        "Tcp.RtoAlgorithm": 1,
        "Tcp.RtoMin": 200,
        "Tcp.RtoMax": 120000,
        "Tcp.MaxConn": -1,
        "Ip.Forwarding": 2,
        "Ip.DefaultTTL": 64,
    }


def test_proc_icmpmsg_split_over_several_pairs_and_blank_first_line() -> None:
    text = "\nIcmpMsg: InType0 InType3\nIcmpMsg: 5 6\nIcmpMsg: OutType3\nIcmpMsg: 7\n"
    assert parse_proc_netstat(text) == {"IcmpMsg.InType0": 5, "IcmpMsg.InType3": 6, "IcmpMsg.OutType3": 7}


def test_proc_parses_by_name_not_position() -> None:
    """RHEL appends fields and kernels add/remove them: values follow their header names."""
    a = parse_proc_netstat("TcpExt: ListenOverflows ListenDrops\nTcpExt: 4 5\n")
    b = parse_proc_netstat("TcpExt: PAWSPassive ListenDrops TCPWqueueTooBig ListenOverflows\nTcpExt: 0 5 9 4\n")
    assert a["TcpExt.ListenOverflows"] == b["TcpExt.ListenOverflows"] == 4
    assert "TcpExt.PAWSPassive" not in a  # absent, not 0


def test_proc_concatenated_netstat_snmp_and_snmp6() -> None:
    text = (
        read("captured/debian12-kernel6.18-proc-net-netstat.txt")
        + read("captured/debian12-kernel6.18-proc-net-snmp.txt")
        + read("captured/debian12-kernel6.18-proc-net-snmp6.txt")
    )
    got = parse_proc_netstat(text)
    assert got["TcpExt.TW"] == 55 and got["Tcp.MaxConn"] == -1 and got["Ip6.InReceives"] == 1
    assert got["Icmp6.InMsgs"] == parse_snmp6(read("captured/debian12-kernel6.18-proc-net-snmp6.txt"))["Icmp6.InMsgs"]
    assert detect_counter_format(text) == "proc"


def test_proc_big_counters() -> None:
    assert parse_proc_netstat("IpExt: InOctets\nIpExt: 18446744073709551615\n") == {"IpExt.InOctets": 2**64 - 1}


# ---------------------------------------------------------------- netstat -s, every generation of wording
# The same kernel counters printed by different net-tools versions.
EXPECTED = {
    "Tcp.ActiveOpens": 11,
    "Tcp.PassiveOpens": 12,
    "Tcp.AttemptFails": 13,
    "Tcp.OutSegs": 14,
    "Tcp.RetransSegs": 15,
    "Tcp.InErrs": 16,
    "Tcp.OutRsts": 17,
    "Udp.NoPorts": 18,
    "TcpExt.ListenOverflows": 21,
    "TcpExt.ListenDrops": 22,
    "TcpExt.PAWSEstab": 23,
    "TcpExt.PAWSPassive": 24,
    "TcpExt.SyncookiesFailed": 25,
    "TcpExt.TCPRcvCollapsed": 26,
    "TcpExt.PruneCalled": 27,
    "TcpExt.RcvPruned": 28,
    "Ip.FragOKs": 31,
    "Ip.ReasmFails": 32,
    "Icmp.InErrors": 33,
    "Icmp.OutDestUnreachs": 34,
    "Icmp.InDestUnreachs": 35,
    "TcpExt.TCPHPHits": 36,
}


def _netstat_s(
    tcp: tuple[str, ...],
    ip: tuple[str, ...],
    icmp_err: str,
    udp_noports: str,
    paws_estab: str,
    listen_drops: str,
    hp: str,
) -> str:
    return "\n".join(
        [
            "Ip:",
            *(f"    {line}" for line in ip),
            "Icmp:",
            f"    {icmp_err}",
            "    ICMP input histogram:",
            "        destination unreachable: 35",
            "    9 ICMP messages sent",
            "    ICMP output histogram:",
            "        destination unreachable: 34",
            "Tcp:",
            *(f"    {line}" for line in tcp),
            "    17 resets sent",
            "Udp:",
            f"    {udp_noports}",
            "TcpExt:",
            "    25 invalid SYN cookies received",
            "    27 packets pruned from receive queue because of socket buffer overrun",
            "    28 packets pruned from receive queue",
            "    24 passive connections rejected because of time stamp",
            f"    {paws_estab}",
            "    21 times the listen queue of a socket overflowed",
            f"    {listen_drops}",
            f"    {hp}",
            "    26 packets collapsed in receive queue due to low socket buffer",
            "",
        ]
    )


OLD_TCP = (
    "11 active connections openings",
    "12 passive connection openings",
    "13 failed connection attempts",
    "14 segments send out",
    "15 segments retransmited",
    "16 bad segments received.",
)
NEW_TCP = (
    "11 active connection openings",
    "12 passive connection openings",
    "13 failed connection attempts",
    "14 segments sent out",
    "15 segments retransmitted",
    "16 bad segments received",
)
OLD_IP = ("31 fragments received ok", "32 packet reassembles failed")
NEW_IP = ("31 outgoing packets fragmented ok", "32 packet reassemblies failed")

VERSIONS = {
    "pre-2003": _netstat_s(
        OLD_TCP,
        OLD_IP,
        "33 input ICMP message failed.",
        "18 packets to unknown port received.",
        "23 packets rejects in established connections because of timestamp",
        "22 SYNs to LISTEN sockets ignored",
        "36 packets header predicted",
    ),
    "1.60/2.0-2013": _netstat_s(
        OLD_TCP,
        OLD_IP,
        "33 input ICMP message failed.",
        "18 packets to unknown port received.",
        "23 packets rejects in established connections because of timestamp",
        "22 SYNs to LISTEN sockets dropped",
        "36 packet headers predicted",
    ),
    "2015-2019": _netstat_s(
        NEW_TCP,
        NEW_IP,
        "33 input ICMP message failed",
        "18 packets to unknown port received",
        "23 packetes rejected in established connections because of timestamp",
        "22 SYNs to LISTEN sockets dropped",
        "36 packet headers predicted",
    ),
    "2.10": _netstat_s(
        NEW_TCP,
        NEW_IP,
        "33 input ICMP message failed",
        "18 packets to unknown port received",
        "23 packets rejected in established connections because of timestamp",
        "22 SYNs to LISTEN sockets dropped",
        "36 packet headers predicted",
    ),
}


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_netstat_s_wordings_of_every_version_map_to_the_same_keys(version: str) -> None:
    got, unknown = scan_netstat_s(VERSIONS[version])
    assert unknown == []
    for key, value in EXPECTED.items():
        assert got[key] == value, key
    assert detect_counter_format(VERSIONS[version]) == "netstat-s"


def test_every_documented_wording_is_recognised() -> None:
    """Each wording in the table, printed the way net-tools prints it, parses to its field."""
    for section, fields in NUMBER_LINES.items():
        for field, wordings in fields.items():
            for wording in wordings:
                text = f"{section}:\n    {wording.replace('%', '42')}\n"
                assert parse_netstat_s(text) == {f"{section}.{field}": 42}, (section, wording)
    for section, dirs in HISTOGRAM_LINES.items():
        for direction, fields in dirs.items():
            header = "ICMP input histogram:" if direction == "in" else "ICMP output histogram:"
            for field, wordings in fields.items():
                for wording in wordings:
                    text = f"{section}:\n    {header}\n        {wording.replace('%', '7')}\n"
                    assert parse_netstat_s(text) == {f"{section}.{field}": 7}, (section, wording)


def test_netstat_s_negative_32bit_wrapped_numbers() -> None:
    text = "Tcp:\n    -1294967296 segments received\nTcpExt:\n    -5 times the listen queue of a socket overflowed\n"
    assert parse_netstat_s(text) == {"Tcp.InSegs": -1294967296, "TcpExt.ListenOverflows": -5}


def test_netstat_s_raw_names_and_sections() -> None:
    text = (
        "Ip:\n    Forwarding: 2\nIcmp:\n    InCsumErrors: 3\nIcmpMsg:\n        InType3: 107\n"
        "TcpExt:\n    TCPReqQFullDrop: 9\n    TCPBacklogDrop: 4\nIpExt:\n    InNoRoutes: 6\n"
        "MPTcpExt:\n    MPCapableSYNRX: 2\nUdpLite:\n    InErrors: 1\nIcmp6:\n    Icmp6InCsumErrors: 5\n"
    )
    assert parse_netstat_s(text) == {
        "Ip.Forwarding": 2,
        "Icmp.InCsumErrors": 3,
        "IcmpMsg.InType3": 107,
        "TcpExt.TCPReqQFullDrop": 9,
        "TcpExt.TCPBacklogDrop": 4,
        "IpExt.InNoRoutes": 6,
        "MPTcpExt.MPCapableSYNRX": 2,
        "UdpLite.InErrors": 1,
        "Icmp6.InCsumErrors": 5,
    }


def test_netstat_s_histogram_direction_and_reset() -> None:
    text = (
        "Icmp:\n    ICMP input histogram:\n        echo replies: 3\n    4 ICMP messages sent\n"
        "    ICMP output histogram:\n        echo replies: 5\n        OutRateLimitHost: 6\n"
    )
    assert parse_netstat_s(text) == {
        "Icmp.InEchoReps": 3,
        "Icmp.OutMsgs": 4,
        "Icmp.OutEchoReps": 5,
        "Icmp.OutRateLimitHost": 6,
    }


def test_netstat_s_unknown_lines_are_skipped_and_reported() -> None:
    text = "$ netstat -s\nTcp:\n    3 resets sent\n    7 segments teleported\n    1 2 two numbers\nunknown Foo\n"
    got, unknown = scan_netstat_s(text)
    assert got == {"Tcp.OutRsts": 3}
    assert [n for n, _ in unknown] == [1, 4, 5, 6]


def test_netstat_s_omitted_zero_lines_are_absent() -> None:
    got = parse_netstat_s(read("public/netstat-s/insights-core-rhel7-nettools-2.0-20131004git-netstat-s.txt"))
    assert "TcpExt.ListenOverflows" not in got and "TcpExt.PAWSPassive" not in got
    assert got["Ip.ForwDatagrams"] == 0  # "number" lines are printed even when 0


def test_netstat_s_cr_lf_and_lost_indentation() -> None:
    text = "Tcp:\r\n3 resets sent\r\nTcpExt:\r\n9 SYNs to LISTEN sockets dropped\r\n"
    assert parse_netstat_s(text) == {"Tcp.OutRsts": 3, "TcpExt.ListenDrops": 9}


# ---------------------------------------------------------------- nstat and snmp6
def test_nstat_absolute_with_and_without_rate_column() -> None:
    text = (
        "#kernel\nTcpExtListenOverflows           12                 0.0\nTcpActiveOpens 3\nIpExtInOctets 5 1.5e+03\n"
    )
    assert parse_nstat(text) == {"TcpExt.ListenOverflows": 12, "Tcp.ActiveOpens": 3, "IpExt.InOctets": 5}


def test_nstat_json() -> None:
    text = '{"kernel":{"TcpExtListenDrops":7,"IpInReceives":2,"SomethingNew":1}}'
    assert parse_nstat(text) == {"TcpExt.ListenDrops": 7, "Ip.InReceives": 2}
    assert detect_counter_format(text) == "nstat"
    assert parse_counters(text) == {"TcpExt.ListenDrops": 7, "Ip.InReceives": 2}


def test_nstat_unknown_group_names_are_skipped() -> None:
    assert parse_nstat("#kernel\nXfrmInError 3 0.0\nTcpOutRsts 4 0.0\n") == {"Tcp.OutRsts": 4}


def test_snmp6() -> None:
    text = "Ip6InReceives                   \t123\nIcmp6InMsgs 4\nUdp6InDatagrams 5\nUdpLite6InErrors 0\nIcmp6OutType133 2\n"
    assert parse_snmp6(text) == {
        "Ip6.InReceives": 123,
        "Icmp6.InMsgs": 4,
        "Udp6.InDatagrams": 5,
        "UdpLite6.InErrors": 0,
        "Icmp6.OutType133": 2,
    }


# ---------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("public/proc-net-snmp/node_exporter-proc-net-snmp.txt", "proc"),
        ("public/netstat-s/insights-core-rhel7-nettools-2.0-20131004git-netstat-s.txt", "netstat-s"),
        ("public/nstat/kernel-doc-snmp_counter-ping-nstat-delta.txt", "nstat"),
        ("captured/debian12-kernel6.18-proc-net-snmp6.txt", "nstat"),
    ],
)
def test_detect(rel: str, fmt: str) -> None:
    assert detect_counter_format(read(rel)) == fmt


def test_detect_proc_with_single_field_header() -> None:
    assert detect_counter_format("IcmpMsg: InType3\nIcmpMsg: 5\n") == "proc"


def test_detect_netstat_s_pasted_from_the_middle() -> None:
    assert detect_counter_format("    InType3: 107\n    12 segments received\n") == "netstat-s"
