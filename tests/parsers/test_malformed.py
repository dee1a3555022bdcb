"""Bad input ends in ParseError (or UnsupportedHost) with a specific message, never a traceback or zeros."""

from __future__ import annotations

import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.errors import ParseError, UnsupportedHost
from probes.parsers import counters, facts, ss, sysctl
from tests.parsers.conftest import read

NETSTAT = read("public/proc-net-netstat/pcp-qa-procnet-4.15.14-root-001-netstat.txt")
SNMP = read("public/proc-net-snmp/node_exporter-proc-net-snmp.txt")
NETSTAT_S = read("public/netstat-s/zperf-tcpmon-commit52f365d-oldwording-listen-overflows-netstat-s.txt")
HTML = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n"
BUSYBOX = (
    "netstat: invalid option -- 's'\nBusyBox v1.36.1 (2023-07-27 17:12:24 UTC) multi-call binary.\n\n"
    "Usage: netstat [-ral] [-tuwx] [-enWp]\n"
)
BINARY = "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x03\x00>\x00"
JUNK = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r\x0b\x0c") * 20


def _cut_value_line(text: str) -> str:
    """Header intact, its value line cut in the middle (a transfer that stopped)."""
    header, values = text.splitlines()[:2]
    return header + "\n" + values[: len(values) // 2]


# (id, parser, text, message regex, expected line number or None)
CASES: list[tuple[str, Callable[[str], object], str, str, int | None]] = [
    ("proc-empty", counters.parse_proc_netstat, "", r"proc-net-netstat: empty output", None),
    ("proc-blank", counters.parse_proc_netstat, " \n\t\n", r"empty output", None),
    ("proc-html", counters.parse_proc_netstat, HTML, r"HTML/XML document", None),
    ("proc-binary", counters.parse_proc_netstat, BINARY, r"binary data \(NUL bytes\)", None),
    ("proc-control-junk", counters.parse_proc_netstat, JUNK, r"binary data \(control characters\)", None),
    (
        "proc-header-only",
        counters.parse_proc_netstat,
        NETSTAT.splitlines()[0] + "\n",
        r"TcpExt header has no value line \(truncated output\)",
        1,
    ),
    (
        "proc-truncated-after-header",
        counters.parse_proc_netstat,
        "\n".join(NETSTAT.splitlines()[:3]) + "\n",
        r"IpExt header has no value line",
        3,
    ),
    (
        "proc-value-line-cut",
        counters.parse_proc_netstat,
        _cut_value_line(NETSTAT),
        r"TcpExt: header names \d+ fields but the value line has \d+ \(truncated or mismatched\)",
        2,
    ),
    (
        "proc-count-mismatch",
        counters.parse_proc_netstat,
        "Tcp: ActiveOpens PassiveOpens\nTcp: 1 2 3\n",
        r"Tcp: header names 2 fields but the value line has 3",
        2,
    ),
    (
        "proc-non-integer",
        counters.parse_proc_netstat,
        "Tcp: ActiveOpens PassiveOpens\nTcp: 1 x2\n",
        r"Tcp\.PassiveOpens value 'x2' is not an integer",
        2,
    ),
    (
        "proc-float",
        counters.parse_proc_netstat,
        "Udp: InDatagrams\nUdp: 1.5\n",
        r"Udp\.InDatagrams value '1\.5' is not an integer",
        2,
    ),
    ("proc-values-without-header", counters.parse_proc_netstat, "Tcp: 1 2 3\n", r"Tcp values without a header line", 1),
    (
        "proc-group-mismatch",
        counters.parse_proc_netstat,
        "Tcp: ActiveOpens\nUdp: 1\n",
        r"Tcp header \(line 1\) has no value line",
        1,
    ),
    ("proc-garbage-line", counters.parse_proc_netstat, SNMP + "hello world\n", r"unexpected line 'hello world'", 13),
    (
        "proc-bad-field-name",
        counters.parse_proc_netstat,
        "Tcp: Active-Opens\nTcp: 1\n",
        r"bad field name 'Active-Opens' in Tcp header",
        1,
    ),
    ("proc-busybox", counters.parse_proc_netstat, BUSYBOX, r"command failed: \"netstat: invalid option -- 's'\"", 1),
    (
        "proc-no-such-file",
        counters.parse_proc_netstat,
        "cat: /proc/net/snmp6: No such file or directory\n",
        r"command failed",
        1,
    ),
    (
        "snmp6-garbage",
        counters.parse_snmp6,
        "Ip6InReceives 12\nIp6InHdrErrors twelve\n",
        r"proc-net-snmp6: expected 'Name value' but got 'Ip6InHdrErrors twelve'",
        2,
    ),
    ("snmp6-no-known", counters.parse_snmp6, "Foo 1\n", r"no known counters found \(e\.g\. 'Foo 1'\)", None),
    ("netstat-s-busybox", counters.parse_netstat_s, BUSYBOX, r"netstat-s: command failed: .*invalid option", 1),
    (
        "netstat-s-nothing-known",
        counters.parse_netstat_s,
        "Tcp:\n    7 segments teleported\n",
        r"no netstat -s counters recognised \(first line 'Tcp:'\)",
        None,
    ),
    ("netstat-s-html", counters.parse_netstat_s, HTML, r"HTML/XML document", None),
    (
        "netstat-s-command-not-found",
        counters.parse_netstat_s,
        "bash: netstat: command not found\n",
        r"command failed: 'bash: netstat: command not found'",
        1,
    ),
    (
        "nstat-bad-line",
        counters.parse_nstat,
        "#kernel\nTcpExtListenOverflows 12 0.0\nTcpExtListenDrops\n",
        r"nstat: expected 'Name value' but got 'TcpExtListenDrops'",
        3,
    ),
    ("nstat-header-only", counters.parse_nstat, "#kernel\n", r"no known counters found", None),
    ("nstat-bad-json", counters.parse_nstat, '{"kernel": {"TcpExtListenDrops": ', r"invalid nstat JSON", None),
    (
        "nstat-json-non-int",
        counters.parse_nstat,
        '{"kernel": {"TcpExtListenDrops": "7"}}',
        r"TcpExtListenDrops is not an integer",
        None,
    ),
    (
        "detect-prose",
        counters.parse_counters,
        "Hello, can you check why db01 is slow?\n",
        r"counters: not /proc/net/netstat, netstat -s or nstat output",
        1,
    ),
    ("detect-empty", counters.parse_counters, "", r"counters: empty output", None),
    (
        "sysctl-a-garbage",
        sysctl.parse_sysctl_a,
        "net.core.somaxconn = 128\nthis is not sysctl\n",
        r"sysctl: expected 'key = value', got 'this is not sysctl'",
        2,
    ),
    (
        "sysctl-a-only-diagnostics",
        sysctl.parse_sysctl_a,
        "sysctl: permission denied on key 'kernel.x'\n",
        r"no sysctl values found \(only sysctl diagnostics\)",
        None,
    ),
    ("sysctl-a-bad-key", sysctl.parse_sysctl_a, "net core = 1\n", r"bad sysctl key 'net core'", 1),
    ("sysctl-a-binary", sysctl.parse_sysctl_a, BINARY, r"binary data", None),
    ("sysctl-conf-no-equals", sysctl.parse_sysctl_conf, "net.core.somaxconn\n", r"sysctl\.conf: line without '='", 1),
    ("sysctl-conf-empty-key", sysctl.parse_sysctl_conf, " = 1\n", r"bad sysctl key ''", 1),
    ("ss-garbage", ss.parse_ss_listen, "LISTEN 0 128\n", r"ss: unexpected ss line 'LISTEN 0 128'", 1),
    ("ss-no-port", ss.parse_ss_listen, "LISTEN 0 128 10.0.0.1 *:*\n", r"no port in address '10\.0\.0\.1'", 1),
    (
        "ss-service-name",
        ss.parse_ss_listen,
        "LISTEN 0 128 *:frobnitz *:*\n",
        r"port 'frobnitz' is not a number \(run ss/netstat with -n\)",
        1,
    ),
    ("ss-bad-port", ss.parse_ss_listen, "LISTEN 0 128 *:99999 *:*\n", r"port 99999 out of range", 1),
    ("ss-bad-address", ss.parse_ss_listen, "LISTEN 0 128 db01.example.com:5432 *:*\n", r"bad address", 1),
    ("ss-not-found", ss.parse_ss_listen, "sh: 1: ss: not found\n", r"ss: command failed: 'sh: 1: ss: not found'", 1),
    ("ss-html", ss.parse_ss_listen, HTML, r"HTML/XML document", None),
    ("ss-s-garbage", ss.parse_ss_summary, "Total: many\n", r"ss-s: bad Total line 'Total: many'", 1),
    ("ss-s-not-summary", ss.parse_ss_summary, "LISTEN 0 128 *:22 *:*\n", r"unexpected ss -s line", 1),
    (
        "netstat-listen-garbage",
        ss.parse_netstat_listen,
        "Proto Recv-Q\nfoo bar\n",
        r"netstat-listen: unexpected netstat line 'foo bar'",
        2,
    ),
    ("netstat-listen-truncated", ss.parse_netstat_listen, "tcp 0 0 0.0.0.0:22\n", r"truncated netstat line", 1),
    ("meminfo-missing", facts.parse_meminfo, "MemFree: 12 kB\n", r"meminfo: no MemTotal line", None),
    ("meminfo-bad", facts.parse_meminfo, "MemTotal: lots kB\n", r"MemTotal 'lots' is not an integer", 1),
    ("meminfo-unit", facts.parse_meminfo, "MemTotal: 12 MB\n", r"MemTotal unit 'MB', expected kB", 1),
    ("os-release-empty-fields", facts.parse_os_release, "# nothing\n", r"no PRETTY_NAME or NAME", None),
    ("uname-garbage", facts.parse_uname, "!!!\n", r"uname: not uname output", 1),
    ("uname-linux-no-release", facts.parse_uname, "Linux\n", r"expected 'Linux <release>'", 1),
    ("conntrack-hex", facts.parse_nf_conntrack_stat, "entries drop\n00000001 zz\n", r"drop value 'zz' is not hex", 2),
    (
        "conntrack-columns",
        facts.parse_nf_conntrack_stat,
        "entries drop\n00000001\n",
        r"2 columns in header but 1 in row",
        2,
    ),
    (
        "conntrack-header-only",
        facts.parse_nf_conntrack_stat,
        "entries drop\n",
        r"header without per-CPU rows \(truncated output\)",
        1,
    ),
    ("conntrack-no-header", facts.parse_nf_conntrack_stat, "00000001 00000002\n", r"expected a header", 1),
    ("sockstat-odd", facts.parse_sockstat, "TCP: inuse 5 orphan\n", r"expected 'GROUP: name value \.\.\.'", 1),
    ("sockstat-non-int", facts.parse_sockstat, "TCP: inuse five\n", r"TCP\.inuse 'five' is not an integer", 1),
    (
        "int-file-two",
        lambda t: facts.parse_int_file(t, "nf_conntrack_count"),
        "1 2\n",
        r"nf_conntrack_count: expected one number, got 2 fields",
        None,
    ),
    ("int-file-word", lambda t: facts.parse_int_file(t, "somaxconn"), "many\n", r"somaxconn: value 'many' is not", 1),
    ("port-range-one", facts.parse_port_range, "32768\n", r"expected two numbers 'low high'", None),
    ("port-range-reversed", facts.parse_port_range, "60999 32768\n", r"invalid port range 60999-32768", None),
    ("nproc-zero", facts.parse_nproc, "0\n", r"CPU count 0 is not positive", None),
]


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("parser", "text", "pattern", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input_raises_parse_error(
    parser: Callable[[str], object], text: str, pattern: str, line: int | None
) -> None:
    with pytest.raises(ParseError, match=pattern) as info:
        parser(text)
    assert info.value.probe  # every error names its probe
    if line is not None:
        assert info.value.line == line


def test_parse_error_is_attributable_to_a_host() -> None:
    with pytest.raises(ParseError) as info:
        counters.parse_proc_netstat("Tcp: A\n", probe="counters_t0")
    err = info.value.on_host("db01")
    assert str(err) == "counters_t0 on db01: Tcp header has no value line (truncated output) (line 1)"


def test_non_string_input() -> None:
    with pytest.raises(ParseError, match="expected text, got bytes"):
        counters.parse_proc_netstat(b"Tcp: A\nTcp: 1\n")  # type: ignore[arg-type]


def test_non_linux_uname_is_unsupported_not_parse_error() -> None:
    with pytest.raises(UnsupportedHost, match=r"uname: host runs FreeBSD 14\.0-RELEASE, not Linux"):
        facts.parse_uname("FreeBSD 14.0-RELEASE\n")


# ---------------------------------------------------------------- properties
COUNTER_PARSERS = [
    counters.parse_proc_netstat,
    counters.parse_snmp6,
    counters.parse_netstat_s,
    counters.parse_nstat,
    counters.parse_counters,
]
INT_DICT_PARSERS = [*COUNTER_PARSERS, ss.parse_ss_summary, facts.parse_sockstat, facts.parse_nf_conntrack_stat]
OTHER_PARSERS = [
    sysctl.parse_sysctl_a,
    sysctl.parse_sysctl_conf,
    ss.parse_ss_listen,
    ss.parse_netstat_listen,
    facts.parse_meminfo,
    facts.parse_os_release,
    facts.parse_uname,
    facts.parse_port_range,
    facts.parse_nproc,
    counters.detect_counter_format,
]

# Text made of the pieces real outputs are made of, so the properties reach past the first check.
_TOKENS = st.sampled_from(
    [
        "TcpExt:",
        "Tcp:",
        "Ip:",
        "IcmpMsg:",
        "IpExt:",
        "MPTcpExt:",
        "ListenOverflows",
        "InType3",
        "Udp6InDatagrams",
        "TcpExtListenDrops",
        "#kernel",
        "0",
        "-1",
        "12",
        "99999999999999999999",
        "1.5",
        "0x1f",
        "00000021",
        "=",
        " = ",
        "LISTEN",
        "ESTAB",
        "tcp",
        "tcp6",
        "u_str",
        "State",
        "Recv-Q",
        "Proto",
        "[::]:22",
        "*:*",
        "127.0.0.53%lo:53",
        ":::22",
        "0.0.0.0:*",
        "times the listen queue of a socket overflowed",
        "ICMP input histogram:",
        "destination unreachable:",
        "segments send out",
        "Total:",
        "(estab",
        "1,",
        "timewait",
        "0/0),",
        "entries",
        "drop",
        "MemTotal:",
        "kB",
        "Linux",
        "FreeBSD",
        "5.4.0",
        "net.core.somaxconn",
        "net/ipv4/conf/eth0.1/rp_filter",
        "sysctl:",
        'PRETTY_NAME="x"',
        "cpu=0",
        "found=1",
        'users:(("x",pid=1,fd=3))',
        "{",
        "}",
        '"kernel":',
    ]
)
_STRUCTURED = st.lists(st.one_of(_TOKENS, st.text(alphabet=string.printable, max_size=6)), max_size=40).map(
    lambda toks: "".join(t + (" " if i % 3 else "\n") for i, t in enumerate(toks))
)
TEXTS = st.one_of(st.text(max_size=300), _STRUCTURED)


@given(TEXTS)
def test_int_parsers_return_only_ints_or_parse_error(text: str) -> None:
    for parser in INT_DICT_PARSERS:
        try:
            got = parser(text)
        except ParseError:
            continue
        assert isinstance(got, dict)
        assert all(isinstance(k, str) and type(v) is int for k, v in got.items())


@given(TEXTS)
def test_other_parsers_raise_only_parse_error_or_unsupported(text: str) -> None:
    for parser in OTHER_PARSERS:
        try:
            parser(text)
        except (ParseError, UnsupportedHost):
            pass


@given(st.text(alphabet=string.ascii_letters + string.digits + "./-_*", min_size=1, max_size=40))
def test_sysctl_key_paths_never_crash(key: str) -> None:
    path = sysctl.sysctl_proc_path(key)
    assert path.startswith("/proc/sys/")
