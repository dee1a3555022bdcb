"""sysctl -a, sysctl.conf / sysctl.d, systemd-sysctl precedence, key <-> /proc/sys path."""

from __future__ import annotations

import pytest

from probes.errors import ParseError
from probes.parsers.sysctl import (
    merge_sysctl_files,
    normalize_key,
    parse_sysctl_a,
    parse_sysctl_conf,
    parse_value,
    proc_path_to_key,
    sysctl_proc_path,
)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1),
        ("  0 ", 0),
        ("-1", -1),
        ("4096\t87380\t6291456", [4096, 87380, 6291456]),
        ("32768 60999", [32768, 60999]),
        ("cubic", "cubic"),
        ("reno cubic", "reno cubic"),
        ("", ""),
        ("0x10", "0x10"),
        ("1.5", "1.5"),
        ("|/usr/share/apport/apport %p", "|/usr/share/apport/apport %p"),
    ],
)
def test_parse_value(raw: str, value: object) -> None:
    assert parse_value(raw) == value


def test_sysctl_a_skips_diagnostics_and_keeps_empty_and_multiline_values() -> None:
    text = (
        "sysctl: permission denied on key 'fs.protected_hardlinks'\n"
        "net.ipv4.tcp_tw_recycle = 1\n"
        "net.ipv4.ip_local_port_range = 32768\t60999\n"
        'sysctl: reading key "net.ipv6.conf.all.stable_secret"\n'
        "kernel.domainname = (none)\n"
        "net.ipv4.conf.eth0/100.rp_filter = 2\n"
        "net.core.default_qdisc = fq_codel\n"
        "kernel.empty = \n"
        "kernel.trimmed =\n"
        "dev.cdrom.info = CD-ROM information\n"
        "dev.cdrom.info = drive speed:\t\t1\n"
    )
    assert parse_sysctl_a(text) == {
        "net.ipv4.tcp_tw_recycle": 1,
        "net.ipv4.ip_local_port_range": [32768, 60999],
        "kernel.domainname": "(none)",
        "net.ipv4.conf.eth0/100.rp_filter": 2,
        "net.core.default_qdisc": "fq_codel",
        "kernel.empty": "",
        "kernel.trimmed": "",
        "dev.cdrom.info": "CD-ROM information\ndrive speed:\t\t1",
    }


def test_sysctl_conf_syntax() -> None:
    text = (
        "# comment\n; another\n\n"
        "net.core.somaxconn=4096\n"
        "  net.ipv4.tcp_tw_recycle   =   0  \n"
        "-net.ipv4.tcp_tw_recycle = 1\n"  # '-' = ignore failure; later line wins
        "net/ipv4/conf/eth0.100/rp_filter = 2\n"
        "net.ipv4.tcp_rmem = 4096 87380\t6291456\n"
        "kernel.core_pattern = |/bin/false %p\n"
        "net.ipv4.conf.*.rp_filter = 1\n"
    )
    assert parse_sysctl_conf(text) == {
        "net.core.somaxconn": 4096,
        "net.ipv4.tcp_tw_recycle": 1,
        "net.ipv4.conf.eth0/100.rp_filter": 2,
        "net.ipv4.tcp_rmem": [4096, 87380, 6291456],
        "kernel.core_pattern": "|/bin/false %p",
        "net.ipv4.conf.*.rp_filter": 1,
    }
    assert parse_sysctl_conf("") == {}


def test_sysctl_conf_line_without_equals_names_file_and_line() -> None:
    with pytest.raises(ParseError, match=r"99-bad\.conf: line without '=': 'net.core.somaxconn 4096' \(line 3\)"):
        parse_sysctl_conf("# x\n\nnet.core.somaxconn 4096\n", source="/etc/sysctl.d/99-bad.conf")


def test_merge_follows_systemd_sysctl_precedence() -> None:
    files = {
        "/usr/lib/sysctl.d/50-default.conf": "net.core.somaxconn = 128\nnet.ipv4.tcp_syncookies = 1\n",
        "/lib/sysctl.d/50-default.conf": "net.core.somaxconn = 1\n",  # masked by /usr/lib (earlier dir)
        "/etc/sysctl.d/50-default.conf": "net.ipv4.tcp_syncookies = 0\n",  # masks /usr/lib's 50-default entirely
        "/run/sysctl.d/60-run.conf": "net.core.somaxconn = 2048\n",
        "/usr/local/lib/sysctl.d/70-local.conf": "net.core.somaxconn = 4096\nnet.ipv4.tcp_tw_recycle = 1\n",
        "/usr/lib/sysctl.d/99-tw.conf": "net.ipv4.tcp_tw_recycle = 0\n",
        "/etc/sysctl.d/README": "not a conf file = ignored\n",
        "/etc/sysctl.conf": "net.ipv4.tcp_tw_recycle = 1\n",  # applied last
    }
    assert merge_sysctl_files(files) == {
        "net.ipv4.tcp_syncookies": (0, "/etc/sysctl.d/50-default.conf"),
        "net.core.somaxconn": (4096, "/usr/local/lib/sysctl.d/70-local.conf"),
        "net.ipv4.tcp_tw_recycle": (1, "/etc/sysctl.conf"),
    }


def test_merge_orders_by_file_name_across_directories() -> None:
    files = {"/etc/sysctl.d/10-a.conf": "x.y = 1\n", "/usr/lib/sysctl.d/20-b.conf": "x.y = 2\n"}
    assert merge_sysctl_files(files) == {"x.y": (2, "/usr/lib/sysctl.d/20-b.conf")}


def test_merge_rejects_unknown_paths() -> None:
    with pytest.raises(ParseError, match="not a sysctl configuration path"):
        merge_sysctl_files({"/tmp/evil.conf": "a.b = 1\n"})


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("net.ipv4.tcp_tw_recycle", "/proc/sys/net/ipv4/tcp_tw_recycle"),
        ("net.core.somaxconn", "/proc/sys/net/core/somaxconn"),
        ("net.ipv4.conf.eth0/100.rp_filter", "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"),
        ("net.ipv6.conf.bond0/12.disable_ipv6", "/proc/sys/net/ipv6/conf/bond0.12/disable_ipv6"),
        ("vm.overcommit_memory", "/proc/sys/vm/overcommit_memory"),
    ],
)
def test_proc_path_round_trip(key: str, path: str) -> None:
    assert sysctl_proc_path(key) == path
    assert proc_path_to_key(path) == key


@pytest.mark.parametrize(
    ("key", "normal"),
    [
        ("net.ipv4.conf.eth0.1.rp_filter", "net.ipv4.conf.eth0/1.rp_filter"),  # VLAN written with plain dots
        ("net.ipv4.neigh.eth0.100.gc_stale_time", "net.ipv4.neigh.eth0/100.gc_stale_time"),
        ("net/ipv4/conf/eth0.1/rp_filter", "net.ipv4.conf.eth0/1.rp_filter"),
        ("/proc/sys/net/ipv4/conf/eth0.1/rp_filter", "net.ipv4.conf.eth0/1.rp_filter"),
        ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.all.rp_filter"),
        ("net.ipv4.tcp_tw_recycle", "net.ipv4.tcp_tw_recycle"),
    ],
)
def test_normalize_key(key: str, normal: str) -> None:
    assert normalize_key(key) == normal
    assert sysctl_proc_path(key) == sysctl_proc_path(normal)


def test_vlan_dotted_key_maps_to_the_right_proc_file() -> None:
    assert sysctl_proc_path("net.ipv4.conf.eth0.1.rp_filter") == "/proc/sys/net/ipv4/conf/eth0.1/rp_filter"


def test_proc_path_to_key_rejects_other_paths() -> None:
    with pytest.raises(ValueError):
        proc_path_to_key("/etc/sysctl.conf")
