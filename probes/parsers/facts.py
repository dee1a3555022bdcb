"""Host facts: kernel, memory, CPUs, distro, conntrack, sockstat, port range."""

from __future__ import annotations

import re
import shlex

from probes.errors import ParseError, UnsupportedHost
from probes.evidence import kernel_version_tuple  # noqa: F401 - still importable from here
from probes.parsers._common import check_text, first_line, is_int, to_int

_HEX = re.compile(r"[0-9A-Fa-f]+\Z")
_OTHER_OSES = {
    "FREEBSD",
    "OPENBSD",
    "NETBSD",
    "DRAGONFLY",
    "DARWIN",
    "SUNOS",
    "AIX",
    "HP-UX",
    "CYGWIN",
    "MINGW32",
    "MINGW64",
    "MSYS",
    "WINDOWS",
    "HAIKU",
    "GNU",
    "MINIX",
    "QNX",
}


def parse_meminfo(text: str, probe: str = "meminfo") -> int:
    """MemTotal from /proc/meminfo, in kB."""
    check_text(text, probe)
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) < 2:
                raise ParseError(probe, "MemTotal line has no value", line=n)
            kb = to_int(parts[1], probe, n, what="MemTotal")
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            if unit != "kb":
                raise ParseError(probe, f"MemTotal unit {parts[2]!r}, expected kB", line=n)
            if kb <= 0:
                raise ParseError(probe, f"MemTotal {kb} is not positive", line=n)
            return kb
    raise ParseError(probe, "no MemTotal line")


def parse_cpu_list(text: str, probe: str = "facts") -> int:
    """The number of CPUs in a kernel CPU list (``/sys/devices/system/cpu/online``: ``0-3,6``)."""
    n = 0
    for part in text.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            n += int(hi) - int(lo) + 1
        elif part:
            n += 1
    if n <= 0:
        raise ParseError(probe, f"cannot read CPU count from {text.strip()!r}")
    return n


def parse_os_release(text: str, probe: str = "os-release") -> str:
    """PRETTY_NAME from /etc/os-release (else NAME VERSION)."""
    check_text(text, probe)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not re.fullmatch(r"[A-Z0-9_]+", key):
            continue
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip("\"'")]
        fields[key] = " ".join(parts)
    if fields.get("PRETTY_NAME"):
        return fields["PRETTY_NAME"]
    name = " ".join(v for v in (fields.get("NAME"), fields.get("VERSION") or fields.get("VERSION_ID")) if v)
    if name:
        return name
    raise ParseError(probe, "no PRETTY_NAME or NAME in os-release")


def parse_uname(text: str, probe: str = "uname") -> tuple[str, str]:
    """``uname -sr`` (or ``uname -a``) -> (sysname, release); non-Linux raises UnsupportedHost."""
    check_text(text, probe)
    line = first_line(text)
    tokens = line.split()
    sysname = tokens[0]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", sysname):
        raise ParseError(probe, f"not uname output: {line[:60]!r}", line=1)
    if len(tokens) >= 2 and tokens[1][:1].isdigit():
        release = tokens[1]  # uname -sr
    elif len(tokens) >= 3 and tokens[2][:1].isdigit():
        release = tokens[2]  # uname -a: sysname nodename release ...
    else:
        release = None
    if sysname != "Linux" and (release or sysname.split("_")[0].upper() in _OTHER_OSES):
        raise UnsupportedHost(
            f"{probe}: host runs {sysname} {release or ''}".rstrip()
            + ", not Linux; whycant reads Linux /proc counters and sysctls"
        )
    if sysname != "Linux" or release is None:
        raise ParseError(probe, f"expected 'Linux <release>', got {line[:60]!r}", line=1)
    return sysname, release


def parse_nf_conntrack_stat(text: str, probe: str = "nf-conntrack-stat") -> dict[str, int]:
    """/proc/net/stat/nf_conntrack: hex header + one row per CPU, summed per column.

    ``entries`` is the global table size repeated on every row, so it is taken
    once, not summed.  Also accepts ``conntrack -S`` (``cpu=0 found=0 drop=1 ...``).
    """
    check_text(text, probe)
    lines = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if "=" in lines[0][1][0]:
        return _parse_conntrack_S(lines, probe)
    n0, header = lines[0]
    if not all(re.fullmatch(r"[a-z_]+", h) for h in header):
        raise ParseError(probe, f"expected a header of column names, got {' '.join(header)[:60]!r}", line=n0)
    if len(lines) < 2:
        raise ParseError(probe, "header without per-CPU rows (truncated output)", line=n0)
    out = {h: 0 for h in header}
    for idx, (n, row) in enumerate(lines[1:]):
        if len(row) != len(header):
            raise ParseError(probe, f"{len(header)} columns in header but {len(row)} in row", line=n)
        for h, cell in zip(header, row):
            if not _HEX.match(cell):
                raise ParseError(probe, f"{h} value {cell[:20]!r} is not hex", line=n)
            if h != "entries":
                out[h] += int(cell, 16)
            elif idx == 0:
                out[h] = int(cell, 16)
    return out


def _parse_conntrack_S(lines: list[tuple[int, list[str]]], probe: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for n, row in lines:
        for cell in row:
            key, sep, value = cell.partition("=")
            if not sep or not re.fullmatch(r"[a-z_]+", key):
                raise ParseError(probe, f"expected name=value, got {cell[:30]!r}", line=n)
            if key == "cpu":
                continue
            out[key] = out.get(key, 0) + to_int(value, probe, n, what=key)
    return out


def parse_sockstat(text: str, probe: str = "sockstat") -> dict[str, int]:
    """/proc/net/sockstat(6): ``TCP: inuse 5 orphan 0 tw 0 alloc 6 mem 1`` -> {"TCP.inuse": 5, ...}."""
    check_text(text, probe)
    out: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        group, sep, rest = line.partition(":")
        tokens = rest.split()
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", group) or len(tokens) % 2:
            raise ParseError(probe, f"expected 'GROUP: name value ...', got {line[:60]!r}", line=n)
        for name, value in zip(tokens[::2], tokens[1::2]):
            out[f"{group}.{name}"] = to_int(value, probe, n, what=f"{group}.{name}")
    return out


def parse_int_file(text: str, probe: str) -> int:
    """A file holding one integer (nf_conntrack_count, somaxconn...)."""
    check_text(text, probe)
    tokens = text.split()
    if len(tokens) != 1:
        raise ParseError(probe, f"expected one number, got {len(tokens)} fields: {text.strip()[:40]!r}")
    return to_int(tokens[0], probe, 1)


def parse_port_range(text: str, probe: str = "ip_local_port_range") -> list[int]:
    """``"32768\\t60999"`` -> [32768, 60999]."""
    check_text(text, probe)
    tokens = text.split()
    if len(tokens) != 2 or not all(is_int(t) for t in tokens):
        raise ParseError(probe, f"expected two numbers 'low high', got {text.strip()[:40]!r}")
    lo, hi = int(tokens[0]), int(tokens[1])
    if not (0 < lo <= hi <= 65535):
        raise ParseError(probe, f"invalid port range {lo}-{hi}")
    return [lo, hi]


def parse_nproc(text: str, probe: str = "nproc") -> int:
    """CPU count from ``nproc`` (or ``getconf _NPROCESSORS_ONLN``)."""
    n = parse_int_file(text, probe)
    if n < 1:
        raise ParseError(probe, f"CPU count {n} is not positive")
    return n
