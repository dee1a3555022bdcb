"""Kernel MIB counters from /proc/net/{netstat,snmp,snmp6}, ``netstat -s`` and ``nstat``.

Every parser returns ``{"Group.Name": int}`` with the kernel's own names
(``TcpExt.ListenOverflows``, ``Tcp.AttemptFails``, ``IpExt.InNoRoutes``), so
rules see the same keys whichever text the evidence came from.

A counter the input does not show is *absent*, never 0.  The one place where
absence means zero is ``netstat -s``: net-tools omits "optional" counters whose
value is 0 (most of TcpExt, the ICMP histograms, the raw ``Name: N`` lines), so
a key missing from :func:`parse_netstat_s` output may well be 0 on the host.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from probes.errors import ParseError
from probes.parsers._common import check_text, first_line, is_int, to_int
from probes.parsers._netstat_wording import HISTOGRAM_INDEX, NUMBER_INDEX

CounterFormat = Literal["proc", "netstat-s", "nstat"]

#: Group prefixes used by nstat and /proc/net/snmp6 names, longest first so that
#: ``IpExtInNoRoutes`` splits as IpExt + InNoRoutes and ``IcmpMsgInType3`` as IcmpMsg + InType3.
MIB_GROUPS: tuple[str, ...] = tuple(
    sorted(
        (
            "TcpExt",
            "IpExt",
            "MPTcpExt",
            "IcmpMsg",
            "Icmp6",
            "Icmp",
            "Ip6",
            "Ip",
            "Tcp",
            "UdpLite6",
            "UdpLite",
            "Udp6",
            "Udp",
            "Sctp",
        ),
        key=len,
        reverse=True,
    )
)

_PROC_LINE = re.compile(r"([A-Za-z][A-Za-z0-9]*):(.*)\Z")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NAME_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\s+([+-]?\d+)\Z")
_NSTAT_LINE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\s+([+-]?\d+)(?:\s+([+-]?[\d.]+(?:[eE][+-]?\d+)?))?\Z")


def split_mib_name(name: str) -> tuple[str, str] | None:
    """``"TcpExtListenOverflows"`` -> ``("TcpExt", "ListenOverflows")``; None if no known group."""
    for group in MIB_GROUPS:
        if name.startswith(group) and len(name) > len(group) and name[len(group)].isupper():
            return group, name[len(group) :]
    return None


# --------------------------------------------------------------------------- /proc


def parse_proc_netstat(text: str, probe: str = "proc-net-netstat") -> dict[str, int]:
    """Parse /proc/net/netstat and/or /proc/net/snmp (header/value line pairs, by name).

    Also accepts /proc/net/snmp6 lines (``Ip6InReceives 123``) appended after
    the pairs, as a ``cat /proc/net/{netstat,snmp,snmp6}`` produces.  Groups may
    repeat (IcmpMsg is split over several pairs when many types are non-zero).
    """
    check_text(text, probe)
    out: dict[str, int] = {}
    pending: tuple[str, list[str], int] | None = None  # group, names, line number of the header
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        m = _PROC_LINE.match(line)
        if m is None:
            nv = _NAME_VALUE.match(line)
            if pending is None and nv and split_mib_name(nv.group(1)):
                group, field = split_mib_name(nv.group(1))  # type: ignore[misc]
                out[f"{group}.{field}"] = int(nv.group(2))
                continue
            if pending is not None:
                raise ParseError(
                    probe,
                    f"{pending[0]} header (line {pending[2]}) is followed by {line[:60]!r} instead of its value line",
                    line=n,
                )
            raise ParseError(
                probe, f"unexpected line {line[:60]!r}: expected 'Group: names' or 'Group: values'", line=n
            )
        group, tokens = m.group(1), m.group(2).split()
        if pending is None:
            if tokens and all(is_int(t) for t in tokens):
                raise ParseError(probe, f"{group} values without a header line", line=n)
            for t in tokens:
                if not _FIELD.match(t):
                    raise ParseError(probe, f"bad field name {t[:40]!r} in {group} header", line=n)
            pending = (group, tokens, n)
            continue
        hgroup, names, hline = pending
        if group != hgroup:
            raise ParseError(probe, f"{hgroup} header (line {hline}) has no value line (truncated output?)", line=hline)
        if len(tokens) != len(names):
            raise ParseError(
                probe,
                f"{group}: header names {len(names)} fields but the value line "
                f"has {len(tokens)} (truncated or mismatched)",
                line=n,
            )
        for name, tok in zip(names, tokens):
            out[f"{group}.{name}"] = to_int(tok, probe, n, what=f"{group}.{name} value")
        pending = None
    if pending is not None:
        raise ParseError(probe, f"{pending[0]} header has no value line (truncated output)", line=pending[2])
    if not out:
        raise ParseError(probe, "no counters found")
    return out


def scan_name_value(text: str, probe: str, allow_rate: bool) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Shared reader for ``Name value [rate]`` lines: (counters, unrecognised (line no, text))."""
    check_text(text, probe)
    out: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    pattern = _NSTAT_LINE if allow_rate else _NAME_VALUE
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):  # "#kernel" header
            continue
        m = pattern.match(line)
        if m is None:
            raise ParseError(probe, f"expected 'Name value' but got {line[:60]!r}", line=n)
        parts = split_mib_name(m.group(1))
        if parts is None:
            unknown.append((n, line))
            continue
        out[f"{parts[0]}.{parts[1]}"] = int(m.group(2))
    if not out:
        raise ParseError(probe, "no known counters found" + (f" (e.g. {unknown[0][1][:40]!r})" if unknown else ""))
    return out, unknown


def parse_snmp6(text: str, probe: str = "proc-net-snmp6") -> dict[str, int]:
    """Parse /proc/net/snmp6 (``Ip6InReceives 123`` -> ``Ip6.InReceives``)."""
    return scan_name_value(text, probe, allow_rate=False)[0]


def parse_nstat(text: str, probe: str = "nstat") -> dict[str, int]:
    """Parse ``nstat -asz`` / ``nstat -az`` text (or ``nstat --json``) into Group.Name keys.

    Names with no known group prefix are skipped; see :func:`scan_name_value`.
    """
    check_text(text, probe)
    if text.lstrip().startswith("{"):
        return _parse_nstat_json(text, probe)
    return scan_name_value(text, probe, allow_rate=True)[0]


def _parse_nstat_json(text: str, probe: str) -> dict[str, int]:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise ParseError(probe, f"invalid nstat JSON: {e}") from None
    table = doc.get("kernel") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise ParseError(probe, "nstat JSON has no 'kernel' object")
    out: dict[str, int] = {}
    for name, value in table.items():
        parts = split_mib_name(str(name))
        if parts is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParseError(probe, f"{name} is not an integer in nstat JSON")
        out[f"{parts[0]}.{parts[1]}"] = value
    if not out:
        raise ParseError(probe, "no known counters in nstat JSON")
    return out


# --------------------------------------------------------------------------- netstat -s

_SECTION = re.compile(r"([A-Za-z][A-Za-z0-9]*):\Z")
_HISTOGRAM_HEADERS = {"icmp input histogram:": "in", "icmp output histogram:": "out"}
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?![\w.])")
_RAW = re.compile(r"([A-Z][A-Za-z0-9_]*): ([+-]?\d+)\Z")


def _wording(line: str) -> str:
    """Normalise a netstat -s line to its wording: number -> %, lower case, no trailing period."""
    return _NUMBER.sub("%", line).rstrip(".").strip().lower()


def scan_netstat_s(text: str, probe: str = "netstat-s") -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Parse net-tools ``netstat -s``: (counters, unrecognised lines as (line no, text)).

    Sections (``Tcp:``, ``TcpExt:``...) decide the group; known wordings map to
    kernel names; raw ``Name: N`` lines map to ``Section.Name``.  Lines that
    match nothing are returned, not guessed at.  Raises ParseError when no line
    at all is recognised.
    """
    check_text(text, probe)
    out: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    section: str | None = None
    histogram: str | None = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if not line:
            continue
        low = line.lower()
        if low in _HISTOGRAM_HEADERS:
            histogram = _HISTOGRAM_HEADERS[low] if section else None
            continue
        m = _SECTION.match(line)
        if m:
            section, histogram = m.group(1), None
            continue
        numbers = _NUMBER.findall(line)
        if section is None or len(numbers) != 1:
            unknown.append((n, line))
            continue
        value = int(numbers[0])
        wording = _wording(line)
        field = HISTOGRAM_INDEX.get((section, histogram), {}).get(wording) if histogram else None
        if field is None:
            field = NUMBER_INDEX.get(section, {}).get(wording)
            if field is not None:
                histogram = None  # a plain counter line ends the histogram
        if field is None:
            r = _RAW.match(line)
            if r:
                field = r.group(1)
                # "Icmp6InCsumErrors: 3" under "Icmp6:" is Icmp6.InCsumErrors
                if field.startswith(section) and field[len(section) :][:1].isupper():
                    field = field[len(section) :]
        if field is None:
            unknown.append((n, line))
            continue
        out[f"{section}.{field}"] = value
    if not out:
        hint = first_line(text)[:60]
        raise ParseError(probe, f"no netstat -s counters recognised (first line {hint!r})")
    return out, unknown


def parse_netstat_s(text: str, probe: str = "netstat-s") -> dict[str, int]:
    """Parse net-tools ``netstat -s`` text (any version) into Group.Name counters.

    Zero-valued optional counters are not printed by net-tools, so their keys
    are simply absent here.  Unrecognised lines are skipped (see :func:`scan_netstat_s`).
    """
    return scan_netstat_s(text, probe)[0]


# --------------------------------------------------------------------------- dispatch


def detect_counter_format(text: str, probe: str = "counters") -> CounterFormat:
    """Tell /proc (``proc``), net-tools ``netstat -s`` and ``nstat`` text apart."""
    check_text(text, probe)
    if text.lstrip().startswith("{"):
        return "nstat"
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#kernel"):
            return "nstat"
        m = _PROC_LINE.match(line)
        if m:
            tokens = m.group(2).split()
            if not tokens:
                return "netstat-s"  # a bare "Tcp:" section header
            if m.group(1) in MIB_GROUPS and (all(_FIELD.match(t) for t in tokens) or all(is_int(t) for t in tokens)):
                return "proc"
            continue  # "InType3: 107" and the like: keep looking
        if re.match(r"[+-]?\d+ \S", line):
            return "netstat-s"
        if _NSTAT_LINE.match(line) and split_mib_name(line.split()[0]):
            return "nstat"
    raise ParseError(
        probe, f"not /proc/net/netstat, netstat -s or nstat output (first line {first_line(text)[:60]!r})", line=1
    )


def parse_counters(text: str, probe: str = "counters") -> dict[str, int]:
    """Parse pasted counter text of any supported format into Group.Name counters."""
    fmt = detect_counter_format(text, probe)
    if fmt == "proc":
        return parse_proc_netstat(text, probe)
    if fmt == "netstat-s":
        return parse_netstat_s(text, probe)
    return parse_nstat(text, probe)
