"""Pasted output -> Evidence: what `analyze` in chat and in the console reads.

PLACEHOLDER for the lenient paste reader (issue 10, branch ``pastes``), which
replaces this module at merge with the same signature. This one tries the
whole text as one counter snapshot (``netstat -s``, ``nstat``,
``/proc/net/netstat``), then as sysctls (``sysctl -a`` or sysctl.conf), then as
listeners (``ss -ltn``), with the parsers ``whycant analyze`` uses. (It does not
import ``bot.cli_analyze``: the core must not import a front end.)
"""
from __future__ import annotations

from probes.errors import BadInput, ParseError
from probes.evidence import Evidence, Facts, HostEvidence, Request
from probes.parsers.counters import parse_counters
from probes.parsers.ss import parse_ss_listen
from probes.parsers.sysctl import parse_sysctl_a, parse_sysctl_conf

EXPECTED = ("netstat -s, nstat -az, /proc/net/netstat or /proc/net/snmp counters; sysctl -a or sysctl.conf "
            "lines; ss -ltn listeners")


def read_paste(text: str, *, host: str = "pasted") -> tuple[Evidence, list[str]]:
    """Evidence from one paste, and notes about what was ignored. ``BadInput`` when nothing is recognised."""
    for read in (_counters, _sysctls, _listeners):
        ev = HostEvidence(host=host)
        try:
            read(ev, text)
        except ParseError:
            continue
        if ev.counters_t1 or ev.sysctls or ev.listeners:
            return Evidence(source="pasted", request=Request(text="analyze", target=host, address=""), target=ev), []
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    raise BadInput(f"nothing recognised in the paste (first line {first[:60]!r}); expected {EXPECTED}")


def _counters(ev: HostEvidence, text: str) -> None:
    ev.counters_t1 = parse_counters(text, probe="paste")  # one snapshot, as `analyze --after`


def _sysctls(ev: HostEvidence, text: str) -> None:
    try:
        ev.sysctls = parse_sysctl_a(text, probe="paste")
    except ParseError:
        ev.sysctls = parse_sysctl_conf(text, source="paste")
    if ev.sysctls and "kernel.osrelease" in ev.sysctls:
        ev.facts = Facts(os="Linux", kernel_release=str(ev.sysctls["kernel.osrelease"]))


def _listeners(ev: HostEvidence, text: str) -> None:
    ev.listeners = parse_ss_listen(text)
