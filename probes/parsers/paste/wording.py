"""``netstat -s`` lines by their wording, with or without their section header (``grep`` fragments).

A wording is the line with its numbers replaced by ``%`` (``12 SYNs to LISTEN sockets dropped`` ->
``% syns to listen sockets dropped``), looked up in the net-tools wordings
(:mod:`probes.parsers._netstat_wording`); a raw ``Name: N`` line counts under the section it is in,
or under TcpExt for the names only TcpExt has.
"""

from __future__ import annotations

import re

from probes.parsers._netstat_wording import HISTOGRAM_INDEX, NUMBER_INDEX

SECTIONS = (
    "Ip",
    "Icmp",
    "IcmpMsg",
    "Tcp",
    "Udp",
    "UdpLite",
    "TcpExt",
    "IpExt",
    "MPTcpExt",
    "Ip6",
    "Icmp6",
    "Udp6",
    "UdpLite6",
    "Sctp",
    "Xfrm",
)
#: TcpExt names recognised in a raw ``Name: N`` line even without the ``TcpExt:`` header
TCPEXT_NAMES = frozenset(NUMBER_INDEX["TcpExt"].values()) | frozenset(
    (
        "TCPDeferAcceptDrop",
        "TCPReqQFullDrop",
        "TCPReqQFullDoCookies",
        "TCPBacklogDrop",
        "TCPTimeWaitOverflow",
        "TCPRcvQDrop",
        "TCPSynRetrans",
        "TCPMemoryPressures",
        "TCPAbortOnMemory",
        "TCPLossProbes",
        "TCPOFODrop",
        "TCPZeroWindowDrop",
        "TCPWantZeroWindowAdv",
        "TCPToZeroWindowAdv",
        "TCPFromZeroWindowAdv",
        "TCPChallengeACK",
        "TCPSYNChallenge",
        "TCPACKSkippedPAWS",
        "IPReversePathFilter",
        "TCPMTUPFail",
        "TCPMTUPSuccess",
    )
)
#: a ``netstat -s`` section header line (``TcpExt:``)
SECTION_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9]*):\s*$")
# Where a headerless wording is looked up first (IPv4 before IPv6: "% packets received" is Udp).
_SECTION_ORDER = ("Tcp", "TcpExt", "Udp", "Ip", "Icmp", "IpExt", "Ip6", "Udp6", "Icmp6")
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?![\w.])")
_RAW = re.compile(r"^([A-Z][A-Za-z0-9_]*): ([+-]?\d+)$")
_ANNOTATION = re.compile(r"\s+(?:<{2,}|<-+|←).*$")  # "1536 packet receive errors   <<<<", "<---- HERE"
_GREP_PREFIX = re.compile(r"^\s*/proc/net/[\w/.-]+:(?=\s*[A-Za-z0-9])")  # `grep X /proc/net/snmp /proc/net/netstat`


def strip_annotations(line: str) -> str:
    """*line* without a trailing ``<<<<`` / ``<-- HERE`` note and a leading ``/proc/net/FILE:`` grep prefix."""
    return _GREP_PREFIX.sub("", _ANNOTATION.sub("", line))


def wording(line: str) -> str:
    return _NUMBER.sub("%", line).rstrip(".").strip().lower()


def netstat_field(section: str | None, histogram: str | None, line: str) -> tuple[str, str] | None:
    """(section, field) for a netstat -s wording line; headerless lines are looked up in every section."""
    w = wording(line)
    if section and histogram:
        f = HISTOGRAM_INDEX.get((section, histogram), {}).get(w)
        if f:
            return section, f
    if section:
        f = NUMBER_INDEX.get(section, {}).get(w)
        if f:
            return section, f
    for s in _SECTION_ORDER:
        f = NUMBER_INDEX.get(s, {}).get(w)
        if f:
            return s, f
    return None


def netstat_counter(section: str | None, histogram: str | None, text: str) -> tuple[str, int] | None:
    """(``Group.Name``, value) of a one-number ``netstat -s`` line: a known wording, a raw ``Name: N``
    under *section*, or a headerless raw line of a TcpExt name (``xsos -N``, grep of raw lines)."""
    numbers = _NUMBER.findall(text)
    if len(numbers) != 1:
        return None
    hit = netstat_field(section, histogram, text)
    if hit is None and section:
        r = _RAW.match(text)
        if r:
            name = r.group(1)
            if name.startswith(section) and name[len(section) :][:1].isupper():
                name = name[len(section) :]
            hit = (section, name)
    if hit is None:
        r = _RAW.match(text)
        if r and r.group(1) in TCPEXT_NAMES:
            hit = ("TcpExt", r.group(1))
    return (f"{hit[0]}.{hit[1]}", int(numbers[0])) if hit is not None else None
