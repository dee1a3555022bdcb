"""The terminal session around the outputs: prompts, command lines, ``date`` lines and noise.

Command lines split a paste into runs; what a command line says about the lines after it
(``cat /proc/sys/...``, ``sysctl -n``, ``conntrack -C``, ``uname -r``: a bare value follows;
``echo N > /proc/sys/...``, ``sysctl -w``: a value set; ``sleep N``: time passed) is read by
:func:`read_command`. Pure: text in, data out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from probes.evidence import SysctlValue
from probes.parsers.sysctl import normalize_key, parse_value, proc_path_to_key

#: Commands whose lines we recognise at the start of a line (after a prompt or ``sudo``).
COMMANDS = frozenset(
    (
        "netstat",
        "nstat",
        "ss",
        "sysctl",
        "cat",
        "grep",
        "egrep",
        "zgrep",
        "conntrack",
        "date",
        "uptime",
        "uname",
        "head",
        "tail",
        "awk",
        "watch",
        "less",
        "more",
        "dmesg",
        "journalctl",
        "echo",
        "ip",
        "free",
        "lsof",
        "wc",
        "sort",
        "sed",
        "cut",
        "for",
        "while",
        "sleep",
        "docker",
        "kubectl",
        "sh",
        "bash",
        "su",
        "ssh",
        "ls",
        "find",
        "ulimit",
        "service",
        "systemctl",
        "iptables",
        "nft",
        "curl",
        "tcpdump",
        "ping",
        "python",
        "python3",
        "hostname",
        "nproc",
        "top",
        "vmstat",
        "sar",
        "ethtool",
        "perf",
        "lscpu",
        "df",
        "mount",
        "modprobe",
        "lsmod",
        "ab",
        "wrk",
        "telnet",
        "nc",
        "dig",
        "nslookup",
        "cd",
        "export",
        "time",
    )
)
#: kernel messages a paste may quote (dmesg, /var/log/messages, journalctl -k) -> kind
KERNEL_LOG: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("nf_conntrack_table_full", re.compile(r"\b(?:nf|ip)_conntrack: (?:nf_conntrack: )?table full", re.IGNORECASE)),
    ("syn_flooding", re.compile(r"possible SYN flooding on port", re.IGNORECASE)),
    ("out_of_socket_memory", re.compile(r"\bOut of socket memory", re.IGNORECASE)),
    ("too_many_orphans", re.compile(r"too many orphaned sockets", re.IGNORECASE)),
    ("tw_bucket_overflow", re.compile(r"time ?wait bucket table overflow", re.IGNORECASE)),
)
#: a /proc/sys path anywhere in a line
PROC_SYS = re.compile(r"(/proc/sys/[\w/.\-]+)")

_PROMPT = re.compile(
    r"""^\s*(?:
        \[[^\]\n]{1,80}\][#$%]            # [root@db01 ~]#
      | [\w.-]+@[\w.-]+(?::[^\s#$%]*)?[#$%]  # user@host:~$   root@db01:/tmp#
      | [\w.-]+[#$%>]                     # db01#  bash-4.2$
      | [#$%>]                            # $   #   %   >
      | PS\ [^>]*>                        # PS C:\>
    )\s*(?P<cmd>.*)$""",
    re.VERBOSE,
)
_DATE = re.compile(
    r"^\s*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*,?\s+)?(?:\d{1,2}\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\w*"
    r"\s+\d{1,2},?\s+(?:\d{4}\s+)?\d{1,2}:\d\d(?::\d\d)?.*$"
    r"|^\s*\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d:?\d\d|[A-Z]{2,5})?\s*$",
    re.IGNORECASE,
)
_ELISION = re.compile(
    r"^\s*(?:\.{2,}|…+|\[\s*(?:\.{2,}|…|snip\w*|cut|truncated|omitted)[^\]]*\]"
    r"|[<(]\s*(?:snip\w*|cut|truncated|omitted)[^>)]*[>)]|-{2,}\s*snip\w*\s*-{2,}|(?:snip|truncated)\.?)\s*$",
    re.IGNORECASE,
)
_NOISE = re.compile(
    r"^\s*\(?\s*(?:Not all processes could be identified|non-owned process info|will not be shown"
    r"|you would have to be root)"
    r"|^\s*(?:sysctl: |error: )(?:permission denied|reading key|cannot stat|error reading)"
    r"|^\s*(?:warning|note): .*(?:root|permission|deprecated)"
    r"|^\s*```\w*\s*$|^\s*~~~\s*$"
    r"|^\s*conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entries have been shown",
    re.IGNORECASE,
)
_UPTIME = re.compile(r"\bup\s+(?:(?P<days>\d+)\s+days?,\s*)?(?:(?P<h>\d+):(?P<m>\d\d)|(?P<mins>\d+)\s+min)")
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)\b")
_SET_PROC = re.compile(r"\becho\s+['\"]?(?P<value>[^'\">]+?)['\"]?\s*>\s*(?P<path>/proc/sys/[\w/.\-]+)")
_SYSCTL_W = re.compile(r"\bsysctl\s+(?:-\w+\s+)*-w\s+(?P<assign>.+)$")
_SYSCTL_N = re.compile(r"\bsysctl\s+(?:-\w*n\w*\s+)+(?P<keys>[\w./\-]+(?:\s+[\w./\-]+)*)")
_CONNTRACK_C = re.compile(r"\bconntrack\s+(?:-C|--count)\b")


@dataclass
class CommandLine:
    """What a command line tells about the lines after it."""

    slept: float = 0.0  # seconds of `sleep N` in it
    pending_keys: list[str] = field(default_factory=list)  # sysctl keys the bare value lines after it belong to
    sysctls: list[tuple[str, SysctlValue]] = field(default_factory=list)  # values it set (echo > /proc/sys, sysctl -w)


def command_of(line: str) -> str | None:
    """The command on a command line (prompt stripped), or None if the line is not one."""
    m = _PROMPT.match(line)
    text = m.group("cmd") if m else line.strip()
    if m is None and not text:
        return None
    tokens = text.split()
    while (
        tokens
        and tokens[0] in ("sudo", "time", "nice", "-E", "env")
        or (tokens and "=" in tokens[0] and not tokens[0].startswith("-"))
    ):
        tokens = tokens[1:]
    if not tokens:
        return "" if m else None
    word = re.split(r"[;&|()]", tokens[0])[0].rsplit("/", 1)[-1]
    if word in COMMANDS:
        return " ".join(tokens)
    return None


def read_command(cmd: str) -> CommandLine:
    """The sleep, pending sysctl keys and set values of command line *cmd* (prompt stripped)."""
    out = CommandLine(slept=sum(float(x) for x in _SLEEP.findall(cmd)))
    paths = PROC_SYS.findall(cmd)
    if (
        paths
        and cmd.split()[0].rsplit("/", 1)[-1] in ("cat", "head", "tail", "grep")
        and not any(p.endswith(("netstat", "snmp", "sockstat")) for p in paths)
    ):
        out.pending_keys = [proc_path_to_key(p) for p in paths if p.count("/") > 3]
    s = _SYSCTL_N.search(cmd)
    if s:
        out.pending_keys = [normalize_key(k) for k in s.group("keys").split() if "." in k or "/" in k]
    for m in _SET_PROC.finditer(cmd):  # echo 10 > /proc/sys/net/ipv4/tcp_max_orphans: the value it set
        out.sysctls.append((proc_path_to_key(m.group("path")), parse_value(m.group("value"))))
    w = _SYSCTL_W.search(cmd)
    if w:
        for assign in w.group("assign").split():
            key, sep, value = assign.strip("'\"").partition("=")
            if sep and "." in key:
                out.sysctls.append((normalize_key(key), parse_value(value.replace(",", " "))))
    if _CONNTRACK_C.search(cmd):
        out.pending_keys = ["net.netfilter.nf_conntrack_count"]
    if cmd.split()[:1] == ["uname"] and "-r" in cmd:
        out.pending_keys = ["kernel.osrelease"]
    return out


def noise_kind(text: str) -> str | None:
    """ "elisions" (``...``, ``[snip]``) or "warnings" (non-root notes, code fences), else None."""
    if _ELISION.match(text):
        return "elisions"
    if _NOISE.match(text):
        return "warnings"
    return None


def kernel_log_kind(text: str) -> str | None:
    """The kind of kernel message (:data:`KERNEL_LOG`) *text* quotes, if any."""
    for kind, pattern in KERNEL_LOG:
        if pattern.search(text):
            return kind
    return None


def is_bare_prompt(text: str) -> bool:
    """A prompt with nothing typed after it."""
    m = _PROMPT.match(text)
    return m is not None and m.group("cmd") == ""


def is_date_line(text: str) -> bool:
    return _DATE.match(text) is not None


def parse_date(text: str) -> float | None:
    """Epoch seconds of a `date` / ISO timestamp line (its zone name ignored: only differences are used)."""
    t = " ".join(text.split())
    try:
        return datetime.fromisoformat(t).timestamp()
    except ValueError:
        pass
    tokens = [x for x in t.split() if not re.fullmatch(r"[A-Z]{2,5}|[+-]\d{4}", x)]
    for fmt in ("%a %b %d %H:%M:%S %Y", "%a %d %b %Y %H:%M:%S", "%a %d %b %Y %I:%M:%S %p", "%b %d %H:%M:%S %Y"):
        try:
            return datetime.strptime(" ".join(tokens).rstrip(","), fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def uptime_seconds(text: str) -> float | None:
    """Seconds up, from an ``uptime`` line (one that names the load average)."""
    u = _UPTIME.search(text)
    if u is None or "load average" not in text:
        return None
    days, h, m, mins = (int(x) if x else 0 for x in u.group("days", "h", "m", "mins"))
    return float(days * 86400 + h * 3600 + m * 60 + mins * 60)
