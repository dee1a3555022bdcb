"""ss / netstat listener formats, ss -s, and host facts."""

from __future__ import annotations

import pytest

from probes.errors import ParseError, UnsupportedHost
from probes.evidence import Listener
from probes.parsers.facts import (
    kernel_version_tuple,
    parse_cpu_list,
    parse_nf_conntrack_stat,
    parse_os_release,
    parse_uname,
)
from probes.parsers.ss import SEND_Q_UNKNOWN, parse_netstat_listen, parse_ss_listen, parse_ss_summary, split_address


@pytest.mark.parametrize(
    ("addr", "host", "port", "iface"),
    [
        ("0.0.0.0:22", "0.0.0.0", 22, None),
        ("*:22", "*", 22, None),
        ("[::]:22", "::", 22, None),
        (":::22", "::", 22, None),
        ("[::1]:5432", "::1", 5432, None),
        ("::1:25", "::1", 25, None),
        ("127.0.0.53%lo:53", "127.0.0.53", 53, "lo"),
        ("0.0.0.0%virbr0:67", "0.0.0.0", 67, "virbr0"),
        ("[::ffff:127.0.0.1]:80", "127.0.0.1", 80, None),
        ("::ffff:127.0.0.1:2181", "127.0.0.1", 2181, None),
        ("[fe80::1]%eth0:546", "fe80::1", 546, "eth0"),
        ("[fe80::1%eth0]:546", "fe80::1", 546, "eth0"),
        ("*:ssh", "*", 22, None),
        ("[::1]:smtp", "::1", 25, None),
    ],
)
def test_split_address(addr: str, host: str, port: int, iface: str | None) -> None:
    assert split_address(addr) == (host, port, iface)


SS_VARIANTS = {
    "iproute2 6.x": "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n"
    "LISTEN 5      4096       10.0.0.5:5432       0.0.0.0:*          \n",
    "no header (-H)": "LISTEN 5      4096       10.0.0.5:5432       0.0.0.0:*\n",
    "old": "State      Recv-Q Send-Q     Local Address:Port       Peer Address:Port\n"
    "LISTEN     5      4096       10.0.0.5:5432            *:*\n",
    "netid + users": "Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
    'tcp LISTEN 5 4096 10.0.0.5:5432 0.0.0.0:* users:(("postgres",pid=1,fd=5)) ino:1 sk:2 <->\n'
    "u_str LISTEN 0 128 /run/x.sock 123 * 0\nudp UNCONN 0 0 0.0.0.0:53 0.0.0.0:*\n",
    "with detail lines": "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
    "LISTEN 5 4096 10.0.0.5:5432 *:*\n\t skmem:(r0,rb87380,t0,tb65536,f0,w0,o0,bl0) cubic\n"
    "ESTAB 0 0 10.0.0.5:5432 10.0.0.9:40000\n",
    "no state column": "Recv-Q Send-Q Local Address:Port Peer Address:Port\n5 4096 10.0.0.5:5432 *:*\n",
}


@pytest.mark.parametrize("variant", sorted(SS_VARIANTS))
def test_ss_listen_variants(variant: str) -> None:
    assert parse_ss_listen(SS_VARIANTS[variant]) == [
        Listener(local_address="10.0.0.5", port=5432, recv_q=5, send_q=4096)
    ]


def test_ss_listen_header_only_means_no_listeners() -> None:
    assert parse_ss_listen("State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n") == []


def test_ss_listen_loopback_and_wildcard_properties() -> None:
    got = parse_ss_listen(
        "LISTEN 0 128 127.0.0.1:5432 0.0.0.0:*\nLISTEN 0 128 [::]:5432 [::]:*\n"
        "LISTEN 0 128 [::ffff:127.0.0.1]:80 [::]:*\n"
    )
    assert [(x.loopback_only, x.wildcard, x.family) for x in got] == [
        (True, False, "inet"),
        (False, True, "inet6"),
        (True, False, "inet"),
    ]


def test_netstat_listen_marks_backlog_unknown() -> None:
    text = (
        "(Not all processes could be identified, non-owned process info\n"
        " will not be shown, you would have to be root to see it all.)\n"
        "Active Internet connections (only servers)\n"
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\n"
        "tcp      129      0 0.0.0.0:5432            0.0.0.0:*               LISTEN      1/postgres\n"
        "tcp6       0      0 :::22                   :::*                    LISTEN      2/sshd\n"
        "tcp        0      0 10.0.0.5:5432           10.0.0.9:40000          ESTABLISHED 1/postgres\n"
        "udp        0      0 0.0.0.0:68              0.0.0.0:*                           3/dhclient\n"
    )
    assert parse_netstat_listen(text) == [
        Listener(local_address="0.0.0.0", port=5432, recv_q=129, send_q=SEND_Q_UNKNOWN),
        Listener(local_address="::", port=22, recv_q=0, send_q=SEND_Q_UNKNOWN, family="inet6"),
    ]


def test_ss_summary_old_and_new() -> None:
    old = "Total: 1336 (kernel 1393)\nTCP:   1384 (estab 1231, closed 89, orphaned 3, synrecv 0, timewait 87/0), ports 0\n"
    new = "Total: 33\nTCP:   16 (estab 2, closed 3, orphaned 0, timewait 2)\n\nTransport Total     IP        IPv6\nTCP\t  13        11        2\n"
    assert parse_ss_summary(old) == {
        "total": 1336,
        "kernel": 1393,
        "tcp": 1384,
        "estab": 1231,
        "closed": 89,
        "orphaned": 3,
        "synrecv": 0,
        "timewait": 87,
        "ports": 0,
    }
    assert parse_ss_summary(new) == {
        "total": 33,
        "tcp": 16,
        "estab": 2,
        "closed": 3,
        "orphaned": 0,
        "timewait": 2,
        "TCP.total": 13,
        "TCP.ip": 11,
        "TCP.ipv6": 2,
    }


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("3.10.0-1160.el7.x86_64", (3, 10, 0)),
        ("6.18.44-fc-v657", (6, 18, 44)),
        ("4.15.0-101-generic", (4, 15, 0)),
        ("5.4", (5, 4, 0)),
        ("2.6.32-754.el6.x86_64", (2, 6, 32)),
        ("5.15.0-1034-azure", (5, 15, 0)),
        ("6.1.0-rc7+", (6, 1, 0)),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_kernel_version_tuple(release: str | None, version: tuple[int, int, int] | None) -> None:
    assert kernel_version_tuple(release) == version


@pytest.mark.parametrize(
    "text",
    [
        "FreeBSD 13.2-RELEASE\n",
        "Darwin 23.1.0\n",
        "Darwin mac.local 23.1.0 Darwin Kernel Version 23.1.0: root:xnu x86_64\n",
        "SunOS 5.11\n",
        "CYGWIN_NT-10.0-19045 3.4.9-1.x86_64\n",
        "OpenBSD\n",
    ],
)
def test_uname_non_linux_is_unsupported(text: str) -> None:
    with pytest.raises(UnsupportedHost, match="not Linux"):
        parse_uname(text)


def test_os_release_fallbacks() -> None:
    assert parse_os_release('NAME="Alpine Linux"\nVERSION_ID=3.19.1\n') == "Alpine Linux 3.19.1"
    assert parse_os_release("PRETTY_NAME='CentOS Linux 7 (Core)'\n") == "CentOS Linux 7 (Core)"


def test_conntrack_S_format() -> None:
    text = (
        "cpu=0   \tfound=0 invalid=130 insert=0 insert_failed=2 drop=1 early_drop=0 error=0 search_restart=0\n"
        "cpu=1   \tfound=1 invalid=5 insert=0 insert_failed=3 drop=4 early_drop=0 error=0 search_restart=2\n"
    )
    assert parse_nf_conntrack_stat(text) == {
        "found": 1,
        "invalid": 135,
        "insert": 0,
        "insert_failed": 5,
        "drop": 5,
        "early_drop": 0,
        "error": 0,
        "search_restart": 2,
    }


@pytest.mark.parametrize(("text", "cpus"), [("0\n", 1), ("0-3\n", 4), ("0-3,6,8-9\n", 7)])
def test_cpu_list(text: str, cpus: int) -> None:
    assert parse_cpu_list(text) == cpus


def test_cpu_list_empty_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="cannot read CPU count"):
        parse_cpu_list("\n")
