"""A lenient reader for terminal pastes: any mix of outputs, split and recognised line by line.

A paste is what a person copied from a terminal: prompts and command lines, ``date``
lines, ``...`` where lines were cut, non-root warnings, comments, and the outputs
of several commands (``netstat -s``, ``nstat``, ``/proc/net/netstat``, ``ss -ltn``,
``sysctl -a``, ``cat /proc/sys/...`` + value, ``ss -s``, ``/proc/net/sockstat``,
``conntrack -C``...), whole or as ``grep`` fragments.

:func:`read_paste_text` is pure: text in, a :class:`PasteReading` out.  Each line is
classified on its own (so a grep fragment without its section header is still
recognised by its wording); command lines split the paste into runs, and a
counter seen twice starts a new run, so two ``netstat -s`` runs are a before and
an after.  Lines that are neither output nor known noise are kept as *ignored*,
never guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from probes.errors import ParseError
from probes.evidence import Listener, SysctlValue
from probes.parsers._netstat_wording import HISTOGRAM_INDEX, NUMBER_INDEX
from probes.parsers.counters import split_mib_name
from probes.parsers.ss import SEND_Q_UNKNOWN, parse_ss_summary, split_address
from probes.parsers.sysctl import normalize_key, parse_value, proc_path_to_key

#: Commands whose lines we recognise at the start of a line (after a prompt or ``sudo``).
COMMANDS = frozenset((
    "netstat", "nstat", "ss", "sysctl", "cat", "grep", "egrep", "zgrep", "conntrack", "date", "uptime",
    "uname", "head", "tail", "awk", "watch", "less", "more", "dmesg", "journalctl", "echo", "ip", "free",
    "lsof", "wc", "sort", "sed", "cut", "for", "while", "sleep", "docker", "kubectl", "sh", "bash", "su",
    "ssh", "ls", "find", "ulimit", "service", "systemctl", "iptables", "nft", "curl", "tcpdump", "ping",
    "python", "python3", "hostname", "nproc", "top", "vmstat", "sar", "ethtool", "perf", "lscpu", "df",
    "mount", "modprobe", "lsmod", "ab", "wrk", "telnet", "nc", "dig", "nslookup", "cd", "export", "time",
))
SECTIONS = ("Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite", "TcpExt", "IpExt", "MPTcpExt", "Ip6", "Icmp6",
            "Udp6", "UdpLite6", "Sctp", "Xfrm")
# Where a headerless wording is looked up first (IPv4 before IPv6: "% packets received" is Udp).
#: TcpExt names recognised in a raw ``Name: N`` line even without the ``TcpExt:`` header
TCPEXT_NAMES = frozenset(NUMBER_INDEX["TcpExt"].values()) | frozenset((
    "TCPDeferAcceptDrop", "TCPReqQFullDrop", "TCPReqQFullDoCookies", "TCPBacklogDrop", "TCPTimeWaitOverflow",
    "TCPRcvQDrop", "TCPSynRetrans", "TCPMemoryPressures", "TCPAbortOnMemory", "TCPLossProbes", "TCPOFODrop",
    "TCPZeroWindowDrop", "TCPWantZeroWindowAdv", "TCPToZeroWindowAdv", "TCPFromZeroWindowAdv", "TCPChallengeACK",
    "TCPSYNChallenge", "TCPACKSkippedPAWS", "IPReversePathFilter", "TCPMTUPFail", "TCPMTUPSuccess",
))
_SECTION_ORDER = ("Tcp", "TcpExt", "Udp", "Ip", "Icmp", "IpExt", "Ip6", "Udp6", "Icmp6")
_SYSCTL_ROOTS = ("net.", "kernel.", "vm.", "fs.", "dev.", "user.", "abi.", "crypto.", "sunrpc.", "debug.")

_PROMPT = re.compile(
    r"""^\s*(?:
        \[[^\]\n]{1,80}\][#$%]            # [root@db01 ~]#
      | [\w.-]+@[\w.-]+(?::[^\s#$%]*)?[#$%]  # user@host:~$   root@db01:/tmp#
      | [\w.-]+[#$%>]                     # db01#  bash-4.2$
      | [#$%>]                            # $   #   %   >
      | PS\ [^>]*>                        # PS C:\>
    )\s*(?P<cmd>.*)$""", re.VERBOSE)
_DATE = re.compile(
    r"^\s*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*,?\s+)?(?:\d{1,2}\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\w*"
    r"\s+\d{1,2},?\s+(?:\d{4}\s+)?\d{1,2}:\d\d(?::\d\d)?.*$"
    r"|^\s*\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d:?\d\d|[A-Z]{2,5})?\s*$", re.IGNORECASE)
_ELISION = re.compile(r"^\s*(?:\.{2,}|…+|\[\s*(?:\.{2,}|…|snip\w*|cut|truncated|omitted)[^\]]*\]"
                      r"|[<(]\s*(?:snip\w*|cut|truncated|omitted)[^>)]*[>)]|-{2,}\s*snip\w*\s*-{2,}|(?:snip|truncated)\.?)\s*$", re.IGNORECASE)
_NOISE = re.compile(
    r"^\s*\(?\s*(?:Not all processes could be identified|non-owned process info|will not be shown"
    r"|you would have to be root)"
    r"|^\s*(?:sysctl: |error: )(?:permission denied|reading key|cannot stat|error reading)"
    r"|^\s*(?:warning|note): .*(?:root|permission|deprecated)"
    r"|^\s*```\w*\s*$|^\s*~~~\s*$"
    r"|^\s*conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entries have been shown", re.IGNORECASE)
_UPTIME = re.compile(r"\bup\s+(?:(?P<days>\d+)\s+days?,\s*)?(?:(?P<h>\d+):(?P<m>\d\d)|(?P<mins>\d+)\s+min)")
_UNAME = re.compile(r"^\s*Linux\s+(?:\S+\s+)?(?P<rel>\d+\.\d+[\w.+-]*)(?:\s+#|\s*$)")  # uname -a / -sr
_MEMTOTAL = re.compile(r"^\s*MemTotal:\s+(\d+)\s+kB\s*$", re.IGNORECASE)
_FREE_MEM = re.compile(r"^\s*Mem:\s+(\d+)\s+\d+\s+\d+")
_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?![\w.])")
_SECTION_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9]*):\s*$")
_PROC_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9]*):((?:\s+\S+)+)\s*$")
_NSTAT = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s+([+-]?\d+)(?:\s+([+-]?[\d.]+(?:[eE][+-]?\d+)?))?\s*$")
_RAW = re.compile(r"^([A-Z][A-Za-z0-9_]*): ([+-]?\d+)$")
_SYSCTL_LINE = re.compile(r"^\s*-?\s*(?P<key>[a-z][\w\-/*.:@+]*[./][\w\-/*.:@+]+)\s*(?P<sep>=|:)\s*(?P<value>.*?)\s*$")
_INT_LINE = re.compile(r"^\s*[+-]?\d+(?:\s+[+-]?\d+)*\s*$")
_SS_ROW = re.compile(r"^(?:(?P<netid>[a-z][a-z0-9_]*)\s+)?"
                     r"(?P<state>LISTEN|ESTAB|UNCONN|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSING|CLOSED)"
                     r"\s+(?P<rq>\d+)\s+(?P<sq>\d+)\s+(?P<local>\S+)\s+(?P<peer>\S+)")
_NETSTAT_ROW = re.compile(r"^(?P<proto>tcp6?|udp6?|udpl6?|raw6?)\s+(?P<rq>\d+)\s+(?P<sq>\d+)\s+(?P<local>\S+)\s+(?P<peer>\S+)"
                          r"(?:\s+(?P<state>[A-Z_0-9]+))?")
_TABLE_HEADER = re.compile(r"^\s*(?:State\s+Recv-Q|Netid\s+State|Recv-Q\s+Send-Q|Proto\s+(?:Recv-Q|RefCnt)|Active (?:Internet|UNIX|Bluetooth))"
                           r"|^unix\s+\d+\s+\[")  # netstat -a's unix socket rows
#: ss -i/-m/-e/-p detail lines (indented under their socket row)
_SS_DETAIL = re.compile(r"^\s+(?:skmem:|cubic\b|reno\b|bbr\b|dctcp\b|ts\b|sack\b|wscale:|timer:|users:|ino:|uid:|rto:|"
                        r"app_limited\b|mss:|sk:|cgroup:)")
#: /proc/meminfo and /etc/os-release lines: recognised (MemTotal and nothing else is used)
_INFO_LINE = re.compile(r"^\s*(?:[A-Za-z][\w()]*:\s+\d+(?:\s+kB)?|[A-Z][A-Z0-9_]*=.*)\s*$")
_CT_HEADER = re.compile(r"^\s*entries(?:\s+[a-z_]+)+\s*$")  # /proc/net/stat/nf_conntrack
_SS_SUMMARY = re.compile(r"^\s*(?:Total:\s+\d+|TCP:\s+\d+\s*\(|Transport\s+Total\s+IP|(?:RAW|UDP|TCP|INET|FRAG|\*)(?:\s+(?:\d+|-)){3}\s*$)")
_SOCKSTAT = re.compile(r"^\s*(?:sockets:\s+used\s+\d+|(?:TCP|UDP|UDPLITE|RAW|FRAG|TCP6|UDP6|UDPLITE6|RAW6|FRAG6):(?:\s+[a-z]+\s+\d+)+)\s*$")
_CT_STAT = re.compile(r"^\s*cpu=\d+\s+(?:\w+=\d+\s*)+$")
#: kernel messages a paste may quote (dmesg, /var/log/messages, journalctl -k) -> kind
KERNEL_LOG: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("nf_conntrack_table_full", re.compile(r"\b(?:nf|ip)_conntrack: (?:nf_conntrack: )?table full", re.IGNORECASE)),
    ("syn_flooding", re.compile(r"possible SYN flooding on port", re.IGNORECASE)),
    ("out_of_socket_memory", re.compile(r"\bOut of socket memory", re.IGNORECASE)),
    ("too_many_orphans", re.compile(r"too many orphaned sockets", re.IGNORECASE)),
    ("tw_bucket_overflow", re.compile(r"time ?wait bucket table overflow", re.IGNORECASE)),
)
_ANNOTATION = re.compile(r"\s+(?:<{2,}|<-+|←).*$")  # "1536 packet receive errors   <<<<", "<---- HERE"
_GREP_PREFIX = re.compile(r"^\s*/proc/net/[\w/.-]+:(?=\s*[A-Za-z0-9])")  # `grep X /proc/net/snmp /proc/net/netstat`
_PROC_SYS_VALUE = re.compile(r"^(/proc/sys/[\w/.\-]+?):\s*(\S.*)$")
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)\b")
_SET_PROC = re.compile(r"\becho\s+['\"]?(?P<value>[^'\">]+?)['\"]?\s*>\s*(?P<path>/proc/sys/[\w/.\-]+)")
_SYSCTL_W = re.compile(r"\bsysctl\s+(?:-\w+\s+)*-w\s+(?P<assign>.+)$")
_PROC_SYS = re.compile(r"(/proc/sys/[\w/.\-]+)")
_SYSCTL_N = re.compile(r"\bsysctl\s+(?:-\w*n\w*\s+)+(?P<keys>[\w./\-]+(?:\s+[\w./\-]+)*)")
_CONNTRACK_C = re.compile(r"\bconntrack\s+(?:-C|--count)\b")


@dataclass
class CounterRun:
    """The counters of one command output (or grep fragment), with the format they came in."""

    fmt: str  # netstat-s | nstat | proc
    counters: dict[str, int] = field(default_factory=dict)
    sections: set[str] = field(default_factory=set)  # netstat -s section headers seen
    command: str | None = None
    first_line: int = 0
    at: float | None = None  # epoch of the `date` line printed just before this run, if any
    slept: float = 0.0  # seconds of `sleep N` in the command lines since the previous run


@dataclass
class PasteReading:
    """What a paste held, by kind; ``ignored`` lines are (line number, text)."""

    counter_runs: list[CounterRun] = field(default_factory=list)
    sysctls: dict[str, SysctlValue] = field(default_factory=dict)
    listeners: list[Listener] | None = None
    sockstat: dict[str, int] = field(default_factory=dict)
    conntrack_stats: dict[str, int] = field(default_factory=dict)
    conntrack_count: int | None = None
    conntrack_max: int | None = None
    kernel_log: dict[str, int] = field(default_factory=dict)
    kernel_release: str | None = None
    mem_total_kb: int | None = None
    uptime_s: float | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # kind -> count (prompts, dates, elisions...)
    ignored: list[tuple[int, str]] = field(default_factory=list)
    recognised: int = 0

    @property
    def empty(self) -> bool:
        return not self.recognised


def _wording(line: str) -> str:
    return _NUMBER.sub("%", line).rstrip(".").strip().lower()


def _netstat_field(section: str | None, histogram: str | None, line: str) -> tuple[str, str] | None:
    """(section, field) for a netstat -s wording line; headerless lines are looked up in every section."""
    w = _wording(line)
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


def _command_of(line: str) -> str | None:
    """The command on a command line (prompt stripped), or None if the line is not one."""
    m = _PROMPT.match(line)
    text = m.group("cmd") if m else line.strip()
    if m is None and not text:
        return None
    tokens = text.split()
    while tokens and tokens[0] in ("sudo", "time", "nice", "-E", "env") or (tokens and "=" in tokens[0] and
                                                                              not tokens[0].startswith("-")):
        tokens = tokens[1:]
    if not tokens:
        return "" if m else None
    word = re.split(r"[;&|()]", tokens[0])[0].rsplit("/", 1)[-1]
    if word in COMMANDS:
        return " ".join(tokens)
    return None


class _Reader:
    def __init__(self) -> None:
        self.out = PasteReading()
        self.run: CounterRun | None = None
        self.section: str | None = None
        self.histogram: str | None = None
        self.command: str | None = None
        self.pending_keys: list[str] = []  # sysctl keys a bare value line belongs to (cat /proc/sys/..., sysctl -n)
        self.proc_header: tuple[str, list[str]] | None = None
        self.ss_lines: list[str] = []
        self.sock_lines: list[str] = []
        self.ct_columns: list[str] | None = None
        self.date: float | None = None  # the last `date` output seen since the previous counter run
        self.slept = 0.0

    # -- helpers --------------------------------------------------------------
    def skip(self, kind: str) -> None:
        self.out.skipped[kind] = self.out.skipped.get(kind, 0) + 1

    def new_run(self, fmt: str, n: int) -> CounterRun:
        run = self.run = CounterRun(fmt=fmt, command=self.command, first_line=n, at=self.date, slept=self.slept)
        self.out.counter_runs.append(run)
        self.date, self.slept = None, 0.0
        return run

    def counter(self, fmt: str, key: str, value: int, n: int) -> None:
        run = self.run
        if run is None or run.fmt != fmt or key in run.counters:
            run = self.new_run(fmt, n)
        run.counters[key] = value
        self.out.recognised += 1

    def new_command(self, cmd: str) -> None:
        self.flush()
        self.slept += sum(float(x) for x in _SLEEP.findall(cmd))
        self.command = cmd
        self.run = None
        self.section = self.histogram = None
        self.proc_header = None
        self.pending_keys = []
        m = _PROC_SYS.findall(cmd)
        if m and cmd.split()[0].rsplit("/", 1)[-1] in ("cat", "head", "tail", "grep") \
                and not any(p.endswith(("netstat", "snmp", "sockstat")) for p in m):
            self.pending_keys = [proc_path_to_key(p) for p in m if p.count("/") > 3]
        s = _SYSCTL_N.search(cmd)
        if s:
            self.pending_keys = [normalize_key(k) for k in s.group("keys").split() if "." in k or "/" in k]
        for m2 in _SET_PROC.finditer(cmd):  # echo 10 > /proc/sys/net/ipv4/tcp_max_orphans: the value it set
            self.out.sysctls[proc_path_to_key(m2.group("path"))] = parse_value(m2.group("value"))
            self.out.recognised += 1
        w = _SYSCTL_W.search(cmd)
        if w:
            for assign in w.group("assign").split():
                key, sep, value = assign.strip("'\"").partition("=")
                if sep and "." in key:
                    self.out.sysctls[normalize_key(key)] = parse_value(value.replace(",", " "))
                    self.out.recognised += 1
        if _CONNTRACK_C.search(cmd):
            self.pending_keys = ["net.netfilter.nf_conntrack_count"]
        if cmd.split()[:1] == ["uname"] and "-r" in cmd:
            self.pending_keys = ["kernel.osrelease"]

    def flush(self) -> None:
        if self.ss_lines:
            self._summary(self.ss_lines)
            self.ss_lines = []
        if self.sock_lines:
            for line in self.sock_lines:
                group, _, rest = line.strip().partition(":")
                tokens = rest.split()
                for name, value in zip(tokens[::2], tokens[1::2]):
                    self.out.sockstat[f"{group}.{name}"] = int(value)
            self.sock_lines = []

    def _summary(self, lines: list[str]) -> None:
        try:
            self.out.sockstat.update(parse_ss_summary("\n".join(lines), probe="ss -s"))
        except ParseError:
            pass

    def listener(self, local: str, rq: int, sq: int, v6: bool, n: int, line: str) -> None:
        try:
            host, port, iface = split_address(local, "paste", n)
        except ParseError:
            self.out.ignored.append((n, line))
            return
        if self.out.listeners is None:
            self.out.listeners = []
        self.out.listeners.append(Listener(local_address=host, port=port, recv_q=rq, send_q=sq,
                                           family="inet6" if (":" in host or v6) else "inet", interface=iface))
        self.out.recognised += 1

    def sysctl(self, key: str, value: str) -> None:
        key = normalize_key(key)
        self.out.sysctls[key] = parse_value(value)
        self.out.recognised += 1

    # -- one line ---------------------------------------------------------------
    def line(self, n: int, raw: str) -> None:
        line = raw.rstrip("\r\n")
        text = " ".join(line.split())
        if not text:
            self.histogram = None
            return
        if _ELISION.match(text):
            return self.skip("elisions")
        if _NOISE.match(text):
            return self.skip("warnings")
        for kind, pattern in KERNEL_LOG:
            if pattern.search(text):
                self.out.kernel_log[kind] = self.out.kernel_log.get(kind, 0) + 1
                self.out.recognised += 1
                return
        text = _GREP_PREFIX.sub("", _ANNOTATION.sub("", text))
        line = _GREP_PREFIX.sub("", _ANNOTATION.sub("", line))
        if self.recognise_output(n, line, text):
            return
        cmd = _command_of(text)
        if cmd is not None:
            self.skip("command lines")
            return self.new_command(cmd)
        if _PROMPT.match(text) and _PROMPT.match(text).group("cmd") == "":  # type: ignore[union-attr]
            return self.skip("prompts")
        if _DATE.match(text):
            self.date = parse_date(text) or self.date
            return self.skip("date lines")
        if text.startswith(("#", ";", "//")):
            return self.skip("comments")
        u = _UPTIME.search(text)
        if u and "load average" in text:
            days, h, m, mins = (int(x) if x else 0 for x in u.group("days", "h", "m", "mins"))
            self.out.uptime_s = float(days * 86400 + h * 3600 + m * 60 + mins * 60)
            self.out.recognised += 1
            return
        self.out.ignored.append((n, text))

    def recognise_output(self, n: int, line: str, text: str) -> bool:
        # a bare value after `cat /proc/sys/...`, `sysctl -n k`, `conntrack -C`, `uname -r`
        if self.pending_keys:
            if self.pending_keys == ["kernel.osrelease"] and re.match(r"^\d+\.\d+[\w.+-]*$", text):
                self.out.kernel_release = text
                self.pending_keys = []
                self.out.recognised += 1
                return True
            if _INT_LINE.match(text):
                self.sysctl(self.pending_keys.pop(0), text)
                return True
        m = _SECTION_HEADER.match(text)
        if m and m.group(1) in SECTIONS:
            if self.run is not None and self.run.fmt == "netstat-s" and m.group(1) in self.run.sections:
                self.run = None  # the same section again: a second netstat -s run
            self.section, self.histogram = m.group(1), None
            self.proc_header = None
            run = self.run if self.run is not None and self.run.fmt == "netstat-s" else self.new_run("netstat-s", n)
            run.sections.add(m.group(1))
            self.out.recognised += 1
            return True
        low = text.lower()
        if low in ("icmp input histogram:", "icmp output histogram:"):
            self.histogram = "in" if "input" in low else "out"
            self.out.recognised += 1
            return True
        if _SOCKSTAT.match(text) and not text.startswith("TCP: ") or re.match(r"^TCP:(?:\s+[a-z]+\s+\d+)+$", text):
            self.sock_lines.append(text)
            self.out.recognised += 1
            return True
        if _SS_SUMMARY.match(text):
            self.ss_lines.append(text)
            self.out.recognised += 1
            return True
        m = _PROC_LINE.match(text)
        if m and m.group(1) in SECTIONS:
            group, tokens = m.group(1), m.group(2).split()
            if all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", t) for t in tokens):
                self.proc_header = (group, tokens)
                self.out.recognised += 1
                return True
            if self.proc_header and self.proc_header[0] == group and all(re.fullmatch(r"-?\d+", t) for t in tokens) \
                    and len(tokens) == len(self.proc_header[1]):
                names = self.proc_header[1]
                self.proc_header = None
                cur = self.run
                if cur is None or cur.fmt != "proc" or any(f"{group}.{k}" in cur.counters for k in names):
                    cur = self.new_run("proc", n)
                for k, v in zip(names, tokens):
                    cur.counters[f"{group}.{k}"] = int(v)
                self.out.recognised += 1
                return True
        if text.startswith("#kernel"):
            if self.run is not None and self.run.fmt == "nstat" and self.run.counters:
                self.run = None
            self.out.recognised += 1
            return True
        m = _NSTAT.match(text)
        if m and split_mib_name(m.group(1)):
            g, f = split_mib_name(m.group(1))  # type: ignore[misc]
            self.counter("nstat", f"{g}.{f}", int(m.group(2)), n)
            return True
        m = _SS_ROW.match(text)
        if m:
            if m.group("state") == "LISTEN" and m.group("netid") in (None, "tcp", "tcp6", "mptcp"):
                self.listener(m.group("local"), int(m.group("rq")), int(m.group("sq")), False, n, text)
            else:
                self.out.recognised += 1
            return True
        m = _NETSTAT_ROW.match(text)
        if m:
            if m.group("state") == "LISTEN" and m.group("proto").startswith("tcp"):
                self.listener(m.group("local"), int(m.group("rq")), SEND_Q_UNKNOWN, m.group("proto") == "tcp6", n, text)
            else:
                self.out.recognised += 1
            return True
        if _TABLE_HEADER.match(text) or _SS_DETAIL.match(line):
            self.out.recognised += 1
            return True
        if _CT_STAT.match(text):
            for cell in text.split():
                k, _, v = cell.partition("=")
                if k != "cpu":
                    self.out.conntrack_stats[k] = self.out.conntrack_stats.get(k, 0) + int(v)
            self.out.recognised += 1
            return True
        if _CT_HEADER.match(text):
            self.ct_columns = text.split()
            self.out.recognised += 1
            return True
        cells = text.split()
        if self.ct_columns and len(cells) == len(self.ct_columns) and all(re.fullmatch(r"[0-9a-fA-F]{8}", c) for c in cells):
            first_row = "entries" not in self.out.conntrack_stats
            for col, cell in zip(self.ct_columns, cells):
                if col != "entries":
                    self.out.conntrack_stats[col] = self.out.conntrack_stats.get(col, 0) + int(cell, 16)
                elif first_row:  # the table size, repeated on every CPU's row
                    self.out.conntrack_stats["entries"] = int(cell, 16)
            self.out.recognised += 1
            return True
        m = _MEMTOTAL.match(text)
        if m:
            self.out.mem_total_kb = int(m.group(1))
            self.out.recognised += 1
            return True
        m = _UNAME.match(text)
        if m:
            self.out.kernel_release = m.group("rel")
            self.out.recognised += 1
            return True
        # netstat -s: a known wording (with or without its section header), or a raw "Name: N" under a section
        numbers = _NUMBER.findall(text)
        if len(numbers) == 1:
            hit = _netstat_field(self.section, self.histogram, text)
            if hit is None and self.section:
                r = _RAW.match(text)
                if r:
                    name = r.group(1)
                    if name.startswith(self.section) and name[len(self.section):][:1].isupper():
                        name = name[len(self.section):]
                    hit = (self.section, name)
            if hit is None:
                r = _RAW.match(text)
                if r and r.group(1) in TCPEXT_NAMES:  # `xsos -N`, grep of netstat -s raw lines
                    hit = ("TcpExt", r.group(1))
            if hit is not None:
                self.counter("netstat-s", f"{hit[0]}.{hit[1]}", int(numbers[0]), n)
                return True
        m = _PROC_SYS_VALUE.match(text)  # `grep . /proc/sys/net/core/somaxconn` -> "/proc/sys/...:128"
        if m:
            self.sysctl(proc_path_to_key(m.group(1)), m.group(2))
            return True
        m = _SYSCTL_LINE.match(line)
        if m and (m.group("key").startswith(_SYSCTL_ROOTS) or m.group("key").startswith("/proc/sys/")) and \
                (m.group("sep") == "=" or _PROC_SYS.match(m.group("key"))):
            self.sysctl(m.group("key"), m.group("value"))
            return True
        if _INFO_LINE.match(text) and not _SECTION_HEADER.match(text):
            self.out.recognised += 1
            return True
        return False


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


def read_paste_text(text: str | list[str]) -> PasteReading:
    """Recognise everything a paste (or several files, in order) holds (pure).

    Never raises; see :attr:`PasteReading.empty`.  Line numbers count on across files.
    """
    r = _Reader()
    n = 0
    for i, part in enumerate([text] if isinstance(text, str) else text):
        if i:
            r.new_command("")  # a file boundary ends the previous output like a command line does
        for raw in part.splitlines():
            n += 1
            r.line(n, raw)
    r.flush()
    out = r.out
    out.counter_runs = [run for run in out.counter_runs if run.counters]
    for key in ("net.netfilter.nf_conntrack_count", "net.nf_conntrack_count", "net.ipv4.netfilter.ip_conntrack_count"):
        if isinstance(out.sysctls.get(key), int):
            out.conntrack_count = int(out.sysctls[key])  # type: ignore[arg-type]
    for key in ("net.netfilter.nf_conntrack_max", "net.nf_conntrack_max", "net.ipv4.netfilter.ip_conntrack_max"):
        if isinstance(out.sysctls.get(key), int):
            out.conntrack_max = int(out.sysctls[key])  # type: ignore[arg-type]
    if isinstance(out.sysctls.get("kernel.osrelease"), str) and not out.kernel_release:
        out.kernel_release = str(out.sysctls["kernel.osrelease"])
    return out


def snapshots(runs: list[CounterRun]) -> list[CounterRun]:
    """Group counter runs into snapshots: runs with disjoint keys (``cat /proc/net/snmp`` then
    ``/proc/net/netstat``) merge; a run repeating a key starts the next snapshot."""
    out: list[CounterRun] = []
    for run in runs:
        cur = out[-1] if out else None
        if cur is not None and not (cur.counters.keys() & run.counters.keys()):
            cur.counters.update(run.counters)
            cur.sections |= run.sections
            if run.fmt != cur.fmt:
                cur.fmt = "mixed"
            continue
        out.append(CounterRun(fmt=run.fmt, counters=dict(run.counters), sections=set(run.sections),
                              command=run.command, first_line=run.first_line, at=run.at, slept=run.slept))
    return out


def window_between(snaps: list[CounterRun]) -> tuple[float | None, str]:
    """Seconds between the first and last snapshot: from their `date` lines, else the `sleep N` between them."""
    first, last = snaps[0], snaps[-1]
    if first.at is not None and last.at is not None and last.at > first.at:
        return last.at - first.at, "the date lines"
    slept = sum(s.slept for s in snaps[1:])
    return (slept, "the sleep in the command lines") if slept > 0 else (None, "")


def zero_fill(before: CounterRun, after: CounterRun) -> dict[str, int]:
    """*before*'s counters plus 0 for every key net-tools omitted there.

    ``netstat -s`` prints most TcpExt counters only when non-zero, so a key that only
    the after-run shows was 0 before, provided the before-run is ``netstat -s`` output
    that had the key's section (or was a header-less grep fragment of it).
    """
    out = dict(before.counters)
    if before.fmt not in ("netstat-s", "mixed"):
        return out
    for key in after.counters:
        section = key.split(".", 1)[0]
        if key not in out and (section in before.sections or not before.sections):
            out[key] = 0
    return out


def netstat_run(text: str, counters: dict[str, int]) -> CounterRun:
    """A CounterRun for a whole ``netstat -s`` text parsed elsewhere (``--before``/``--after``)."""
    sections = {m.group(1) for m in map(_SECTION_HEADER.match, (" ".join(x.split()) for x in text.splitlines()))
                if m and m.group(1) in SECTIONS}
    return CounterRun(fmt="netstat-s", counters=counters, sections=sections)


def describe_skipped(reading: PasteReading, limit: int = 3) -> list[str]:
    """Human notes: what was skipped as noise and which lines were not recognised."""
    notes = []
    if reading.skipped:
        notes.append("skipped " + ", ".join(f"{n} {k}" for k, n in sorted(reading.skipped.items())))
    if reading.ignored:
        shown = "; ".join(f"line {n}: {t[:60]!r}" for n, t in reading.ignored[:limit])
        more = f" (+{len(reading.ignored) - limit} more)" if len(reading.ignored) > limit else ""
        notes.append(f"ignored {len(reading.ignored)} line{'s' if len(reading.ignored) != 1 else ''}: {shown}{more}")
    return notes


EXPECTED = ("netstat -s / nstat / /proc/net/netstat|snmp counters, ss -ltn or netstat -lnt listeners, "
            "sysctl -a or sysctl.conf lines, cat /proc/sys/... values, ss -s, /proc/net/sockstat, "
            "conntrack count/max")
