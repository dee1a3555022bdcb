"""Sysctls: ``sysctl -a`` output, sysctl.conf / sysctl.d files, and key <-> /proc/sys paths.

Keys are in sysctl(8)'s dotted form.  A dot that belongs to a name (a VLAN
interface ``eth0.100``) is written ``/`` in that form, exactly as ``sysctl -a``
prints it: ``net.ipv4.conf.eth0/100.rp_filter`` is
``/proc/sys/net/ipv4/conf/eth0.100/rp_filter``.  Files may also use the
slash-separated form (``net/ipv4/conf/eth0.100/rp_filter``); it is normalised
to the dotted form, as systemd-sysctl and procps do.
"""

from __future__ import annotations

import posixpath
import re

from probes.errors import ParseError
from probes.evidence import SysctlValue
from probes.parsers._common import check_text, is_int

PROC_SYS = "/proc/sys/"

#: systemd-sysctl search path, highest priority first (a file name in an earlier
#: directory masks the same name in later ones).
SYSCTL_DIRS: tuple[str, ...] = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"

# Per-interface subtrees: <prefix>.<ifname>.<leaf>.  Leaf names never contain dots,
# so anything between the prefix and the leaf is the interface name.
_IFACE_PREFIXES = (
    ("net", "ipv4", "conf"),
    ("net", "ipv4", "neigh"),
    ("net", "ipv6", "conf"),
    ("net", "ipv6", "neigh"),
    ("net", "mpls", "conf"),
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.*/:@+-]+\Z")


def parse_value(s: str) -> SysctlValue:
    """``"1"`` -> 1, ``"4096\\t87380\\t6291456"`` -> [4096, 87380, 6291456], else the stripped string."""
    tokens = s.split()
    if tokens and all(is_int(t) for t in tokens):
        return int(tokens[0]) if len(tokens) == 1 else [int(t) for t in tokens]
    return s.strip()


def normalize_key(key: str) -> str:
    """Canonical dotted key.

    * slash form (first separator is ``/``): ``/`` and ``.`` swap, as in systemd's
      ``sysctl_normalize``: ``net/ipv4/conf/eth0.100/rp_filter`` -> ``net.ipv4.conf.eth0/100.rp_filter``;
    * dotted per-interface keys with a dotted interface name written with plain
      dots (``net.ipv4.conf.eth0.100.rp_filter``) are taken to mean interface
      ``eth0.100``, since no such key exists otherwise.
    """
    key = key.strip()
    if key.startswith(PROC_SYS):
        return proc_path_to_key(key)
    key = key.lstrip("/")
    dot, slash = key.find("."), key.find("/")
    if slash != -1 and (dot == -1 or slash < dot):
        key = key.translate(str.maketrans("./", "/."))
    parts = key.split(".")
    for prefix in _IFACE_PREFIXES:
        n = len(prefix)
        if tuple(parts[:n]) == prefix and len(parts) > n + 2:
            return ".".join(list(prefix) + ["/".join(parts[n:-1]), parts[-1]])
    return key


def sysctl_proc_path(key: str) -> str:
    """``net.ipv4.tcp_tw_recycle`` -> ``/proc/sys/net/ipv4/tcp_tw_recycle``."""
    return PROC_SYS + normalize_key(key).translate(str.maketrans("./", "/."))


def proc_path_to_key(path: str) -> str:
    """``/proc/sys/net/ipv4/conf/eth0.100/rp_filter`` -> ``net.ipv4.conf.eth0/100.rp_filter``."""
    p = posixpath.normpath(path)
    if not p.startswith(PROC_SYS):
        raise ValueError(f"not a /proc/sys path: {path!r}")
    return p[len(PROC_SYS) :].translate(str.maketrans("/.", "./"))


def parse_sysctl_a(text: str, probe: str = "sysctl") -> dict[str, SysctlValue]:
    """Parse ``sysctl -a`` (or ``sysctl k1 k2``) output: ``key = value`` lines.

    ``sysctl: ...`` diagnostics (permission denied, reading key ...) are skipped.
    A key printed several times (``dev.cdrom.info``) keeps all its lines, joined by newlines.
    """
    check_text(text, probe, tool_errors=False)
    out: dict[str, SysctlValue] = {}
    raw_values: dict[str, str] = {}
    diagnostics = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("sysctl:"):
            diagnostics += 1
            continue
        key, sep, value = line.partition(" = ")
        if not sep:
            if not line.rstrip().endswith(" ="):  # "key =": an empty value, trailing space lost
                raise ParseError(probe, f"expected 'key = value', got {line.strip()[:60]!r}", line=n)
            key, value = line.rstrip()[:-2], ""
        key = key.strip()
        if not key or not _KEY_CHARS.match(key):
            raise ParseError(probe, f"bad sysctl key {key[:60]!r}", line=n)
        if key in raw_values:  # multi-line values are printed one "key = line" per line
            raw_values[key] += "\n" + value.strip()
            out[key] = raw_values[key]
        else:
            raw_values[key] = value.strip()
            out[key] = parse_value(value)
    if not out:
        why = "only sysctl diagnostics" if diagnostics else "no 'key = value' lines"
        raise ParseError(probe, f"no sysctl values found ({why})")
    return out


def parse_sysctl_conf(text: str, source: str = "sysctl.conf", probe: str = "sysctl-conf") -> dict[str, SysctlValue]:
    """Parse a sysctl.conf / sysctl.d file: ``key = value`` lines, ``#``/``;`` comments.

    A leading ``-`` (ignore failures) is dropped; keys are normalised
    (:func:`normalize_key`); vectors may be separated by spaces or tabs.  Later
    assignments of the same key win.  An empty file gives ``{}``.
    """
    if not isinstance(text, str):
        raise ParseError(probe, f"{source}: expected text, got {type(text).__name__}")
    if "\x00" in text:
        raise ParseError(probe, f"{source}: binary data (NUL bytes), not a sysctl file")
    out: dict[str, SysctlValue] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(probe, f"{source}: line without '=': {line[:60]!r}", line=n)
        key = key.strip()
        if key.startswith("-"):
            key = key[1:].strip()
        if not key or not _KEY_CHARS.match(key):
            raise ParseError(probe, f"{source}: bad sysctl key {key[:60]!r}", line=n)
        out[normalize_key(key)] = parse_value(value)
    return out


def _conf_order(paths: list[str]) -> list[str]:
    """systemd-sysctl order: by file name, earliest directory wins a name, /etc/sysctl.conf last."""
    chosen: dict[str, tuple[int, str]] = {}
    for p in paths:
        d, name = posixpath.split(posixpath.normpath(p))
        rank = SYSCTL_DIRS.index(d)
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, p)
    return [chosen[name][1] for name in sorted(chosen)]


def merge_sysctl_files(files: dict[str, str], probe: str = "sysctl-conf") -> dict[str, tuple[SysctlValue, str]]:
    """What ``systemd-sysctl`` / ``sysctl --system`` will apply: key -> (value, source file).

    *files* maps absolute paths to contents.  Files in the sysctl.d directories
    count only if named ``*.conf``; a name in an earlier directory masks it in
    later ones; files apply in name order and ``/etc/sysctl.conf`` last.
    Paths elsewhere raise ParseError.
    """
    conf_d: list[str] = []
    tail: list[str] = []
    for path in files:
        p = posixpath.normpath(path)
        d, name = posixpath.split(p)
        if p == SYSCTL_CONF:
            tail.append(path)
        elif d in SYSCTL_DIRS:
            if name.endswith(".conf"):
                conf_d.append(path)
        else:
            raise ParseError(
                probe, f"{path!r} is not a sysctl configuration path ({SYSCTL_CONF} or {', '.join(SYSCTL_DIRS)})"
            )
    merged: dict[str, tuple[SysctlValue, str]] = {}
    for path in _conf_order(conf_d) + tail:
        for key, value in parse_sysctl_conf(files[path], source=path, probe=probe).items():
            merged[key] = (value, path)
    return merged
