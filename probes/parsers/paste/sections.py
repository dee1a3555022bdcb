"""Output lines, one reader per kind of output: netstat -s, /proc/net tables, nstat, ss/netstat
socket rows, ss -s and sockstat, conntrack, sysctls, facts.

:class:`OutputReader` holds what the lines read so far imply (the counter run being filled, the
``netstat -s`` section and histogram, a ``/proc/net`` header awaiting its values, the sysctl keys a
bare value belongs to) and :meth:`OutputReader.recognise` offers a line to each reader in turn.
"""

from __future__ import annotations

import re

from probes.errors import ParseError
from probes.evidence import Listener
from probes.parsers.counters import split_mib_name
from probes.parsers.paste.model import CounterRun, PasteReading
from probes.parsers.paste.session import PROC_SYS
from probes.parsers.paste.wording import SECTION_HEADER, SECTIONS, netstat_counter
from probes.parsers.ss import SEND_Q_UNKNOWN, parse_ss_summary, split_address
from probes.parsers.sysctl import normalize_key, parse_value, proc_path_to_key

_SYSCTL_ROOTS = ("net.", "kernel.", "vm.", "fs.", "dev.", "user.", "abi.", "crypto.", "sunrpc.", "debug.")
_UNAME = re.compile(r"^\s*Linux\s+(?:\S+\s+)?(?P<rel>\d+\.\d+[\w.+-]*)(?:\s+#|\s*$)")  # uname -a / -sr
_MEMTOTAL = re.compile(r"^\s*MemTotal:\s+(\d+)\s+kB\s*$", re.IGNORECASE)
_PROC_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9]*):((?:\s+\S+)+)\s*$")
_NSTAT = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s+([+-]?\d+)(?:\s+([+-]?[\d.]+(?:[eE][+-]?\d+)?))?\s*$")
_SYSCTL_LINE = re.compile(r"^\s*-?\s*(?P<key>[a-z][\w\-/*.:@+]*[./][\w\-/*.:@+]+)\s*(?P<sep>=|:)\s*(?P<value>.*?)\s*$")
_INT_LINE = re.compile(r"^\s*[+-]?\d+(?:\s+[+-]?\d+)*\s*$")
_SS_ROW = re.compile(
    r"^(?:(?P<netid>[a-z][a-z0-9_]*)\s+)?"
    r"(?P<state>LISTEN|ESTAB|UNCONN|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|TIME-WAIT|CLOSE-WAIT|LAST-ACK|CLOSING|CLOSED)"
    r"\s+(?P<rq>\d+)\s+(?P<sq>\d+)\s+(?P<local>\S+)\s+(?P<peer>\S+)"
)
_NETSTAT_ROW = re.compile(
    r"^(?P<proto>tcp6?|udp6?|udpl6?|raw6?)\s+(?P<rq>\d+)\s+(?P<sq>\d+)\s+(?P<local>\S+)\s+(?P<peer>\S+)"
    r"(?:\s+(?P<state>[A-Z_0-9]+))?"
)
_TABLE_HEADER = re.compile(
    r"^\s*(?:State\s+Recv-Q|Netid\s+State|Recv-Q\s+Send-Q|Proto\s+(?:Recv-Q|RefCnt)|Active (?:Internet|UNIX|Bluetooth))"
    r"|^unix\s+\d+\s+\["
)  # netstat -a's unix socket rows
#: ss -i/-m/-e/-p detail lines (indented under their socket row)
_SS_DETAIL = re.compile(
    r"^\s+(?:skmem:|cubic\b|reno\b|bbr\b|dctcp\b|ts\b|sack\b|wscale:|timer:|users:|ino:|uid:|rto:|"
    r"app_limited\b|mss:|sk:|cgroup:)"
)
#: /proc/meminfo and /etc/os-release lines: recognised (MemTotal and nothing else is used)
_INFO_LINE = re.compile(r"^\s*(?:[A-Za-z][\w()]*:\s+\d+(?:\s+kB)?|[A-Z][A-Z0-9_]*=.*)\s*$")
_CT_HEADER = re.compile(r"^\s*entries(?:\s+[a-z_]+)+\s*$")  # /proc/net/stat/nf_conntrack
_SS_SUMMARY = re.compile(
    r"^\s*(?:Total:\s+\d+|TCP:\s+\d+\s*\(|Transport\s+Total\s+IP|(?:RAW|UDP|TCP|INET|FRAG|\*)(?:\s+(?:\d+|-)){3}\s*$)"
)
_SOCKSTAT = re.compile(
    r"^\s*(?:sockets:\s+used\s+\d+|(?:TCP|UDP|UDPLITE|RAW|FRAG|TCP6|UDP6|UDPLITE6|RAW6|FRAG6):(?:\s+[a-z]+\s+\d+)+)\s*$"
)
_CT_STAT = re.compile(r"^\s*cpu=\d+\s+(?:\w+=\d+\s*)+$")
_PROC_SYS_VALUE = re.compile(r"^(/proc/sys/[\w/.\-]+?):\s*(\S.*)$")


class OutputReader:
    """Recognises output lines into :attr:`out` (see the module docstring)."""

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

    # -- what the readers record ------------------------------------------------
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

    def listener(self, local: str, rq: int, sq: int, v6: bool, n: int, line: str) -> None:
        try:
            host, port, iface = split_address(local, "paste", n)
        except ParseError:
            self.out.ignored.append((n, line))
            return
        if self.out.listeners is None:
            self.out.listeners = []
        self.out.listeners.append(
            Listener(
                local_address=host,
                port=port,
                recv_q=rq,
                send_q=sq,
                family="inet6" if (":" in host or v6) else "inet",
                interface=iface,
            )
        )
        self.out.recognised += 1

    def sysctl(self, key: str, value: str) -> None:
        self.out.sysctls[normalize_key(key)] = parse_value(value)
        self.out.recognised += 1

    def seen(self) -> bool:
        """Count a line recognised for its own sake (a header, a row read only for its shape)."""
        self.out.recognised += 1
        return True

    def flush(self) -> None:
        """Read the ``ss -s`` and sockstat lines gathered so far (an output ended)."""
        if self.ss_lines:
            try:
                self.out.sockstat.update(parse_ss_summary("\n".join(self.ss_lines), probe="ss -s"))
            except ParseError:
                pass
            self.ss_lines = []
        if self.sock_lines:
            for line in self.sock_lines:
                group, _, rest = line.strip().partition(":")
                tokens = rest.split()
                for name, value in zip(tokens[::2], tokens[1::2]):
                    self.out.sockstat[f"{group}.{name}"] = int(value)
            self.sock_lines = []

    # -- one line -----------------------------------------------------------------
    def recognise(self, n: int, line: str, text: str) -> bool:
        """Whether line *n* is output, recorded (*line* as pasted, *text* with its spaces collapsed)."""
        return (
            self.bare_value(text)
            or self.netstat_header(n, text)
            or self.summary(text)
            or self.proc_table(n, text)
            or self.nstat(n, text)
            or self.socket_row(n, line, text)
            or self.conntrack(text)
            or self.facts(text)
            or self.netstat_line(n, text)
            or self.sysctl_line(line, text)
            or self.info_line(text)
        )

    def bare_value(self, text: str) -> bool:
        """A bare value after `cat /proc/sys/...`, `sysctl -n k`, `conntrack -C`, `uname -r`."""
        if not self.pending_keys:
            return False
        if self.pending_keys == ["kernel.osrelease"] and re.match(r"^\d+\.\d+[\w.+-]*$", text):
            self.out.kernel_release = text
            self.pending_keys = []
            return self.seen()
        if _INT_LINE.match(text):
            self.sysctl(self.pending_keys.pop(0), text)
            return True
        return False

    def netstat_header(self, n: int, text: str) -> bool:
        """A ``netstat -s`` section header (the same section again starts a second run) or ICMP histogram."""
        m = SECTION_HEADER.match(text)
        if m and m.group(1) in SECTIONS:
            if self.run is not None and self.run.fmt == "netstat-s" and m.group(1) in self.run.sections:
                self.run = None  # the same section again: a second netstat -s run
            self.section, self.histogram = m.group(1), None
            self.proc_header = None
            run = self.run if self.run is not None and self.run.fmt == "netstat-s" else self.new_run("netstat-s", n)
            run.sections.add(m.group(1))
            return self.seen()
        low = text.lower()
        if low in ("icmp input histogram:", "icmp output histogram:"):
            self.histogram = "in" if "input" in low else "out"
            return self.seen()
        return False

    def summary(self, text: str) -> bool:
        """``/proc/net/sockstat`` and ``ss -s`` lines, read together when the output ends."""
        if _SOCKSTAT.match(text) and not text.startswith("TCP: ") or re.match(r"^TCP:(?:\s+[a-z]+\s+\d+)+$", text):
            self.sock_lines.append(text)
            return self.seen()
        if _SS_SUMMARY.match(text):
            self.ss_lines.append(text)
            return self.seen()
        return False

    def proc_table(self, n: int, text: str) -> bool:
        """``/proc/net/netstat`` / ``snmp``: a header line, then the values line of the same group."""
        m = _PROC_LINE.match(text)
        if not (m and m.group(1) in SECTIONS):
            return False
        group, tokens = m.group(1), m.group(2).split()
        if all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", t) for t in tokens):
            self.proc_header = (group, tokens)
            return self.seen()
        if (
            self.proc_header
            and self.proc_header[0] == group
            and all(re.fullmatch(r"-?\d+", t) for t in tokens)
            and len(tokens) == len(self.proc_header[1])
        ):
            names = self.proc_header[1]
            self.proc_header = None
            cur = self.run
            if cur is None or cur.fmt != "proc" or any(f"{group}.{k}" in cur.counters for k in names):
                cur = self.new_run("proc", n)
            for k, v in zip(names, tokens):
                cur.counters[f"{group}.{k}"] = int(v)
            return self.seen()
        return False

    def nstat(self, n: int, text: str) -> bool:
        """``nstat`` output: ``#kernel`` (a new run when the current one has counters), ``Name value [rate]``."""
        if text.startswith("#kernel"):
            if self.run is not None and self.run.fmt == "nstat" and self.run.counters:
                self.run = None
            return self.seen()
        m = _NSTAT.match(text)
        mib = split_mib_name(m.group(1)) if m else None
        if m and mib:
            self.counter("nstat", f"{mib[0]}.{mib[1]}", int(m.group(2)), n)
            return True
        return False

    def socket_row(self, n: int, line: str, text: str) -> bool:
        """``ss`` and ``netstat`` socket rows (TCP LISTEN rows are listeners), their headers and detail lines."""
        m = _SS_ROW.match(text)
        if m:
            if m.group("state") == "LISTEN" and m.group("netid") in (None, "tcp", "tcp6", "mptcp"):
                self.listener(m.group("local"), int(m.group("rq")), int(m.group("sq")), False, n, text)
                return True
            return self.seen()
        m = _NETSTAT_ROW.match(text)
        if m:
            if m.group("state") == "LISTEN" and m.group("proto").startswith("tcp"):
                self.listener(m.group("local"), int(m.group("rq")), SEND_Q_UNKNOWN, m.group("proto") == "tcp6", n, text)
                return True
            return self.seen()
        if _TABLE_HEADER.match(text) or _SS_DETAIL.match(line):
            return self.seen()
        return False

    def conntrack(self, text: str) -> bool:
        """``conntrack -S`` lines, and ``/proc/net/stat/nf_conntrack`` (hex, one row per CPU, summed)."""
        if _CT_STAT.match(text):
            for cell in text.split():
                k, _, v = cell.partition("=")
                if k != "cpu":
                    self.out.conntrack_stats[k] = self.out.conntrack_stats.get(k, 0) + int(v)
            return self.seen()
        if _CT_HEADER.match(text):
            self.ct_columns = text.split()
            return self.seen()
        cells = text.split()
        if (
            self.ct_columns
            and len(cells) == len(self.ct_columns)
            and all(re.fullmatch(r"[0-9a-fA-F]{8}", c) for c in cells)
        ):
            first_row = "entries" not in self.out.conntrack_stats
            for col, cell in zip(self.ct_columns, cells):
                if col != "entries":
                    self.out.conntrack_stats[col] = self.out.conntrack_stats.get(col, 0) + int(cell, 16)
                elif first_row:  # the table size, repeated on every CPU's row
                    self.out.conntrack_stats["entries"] = int(cell, 16)
            return self.seen()
        return False

    def facts(self, text: str) -> bool:
        """``MemTotal`` (``/proc/meminfo``) and the kernel release of ``uname -a``."""
        m = _MEMTOTAL.match(text)
        if m:
            self.out.mem_total_kb = int(m.group(1))
            return self.seen()
        m = _UNAME.match(text)
        if m:
            self.out.kernel_release = m.group("rel")
            return self.seen()
        return False

    def netstat_line(self, n: int, text: str) -> bool:
        """A ``netstat -s`` counter line: a known wording (with or without its section header) or a raw ``Name: N``."""
        hit = netstat_counter(self.section, self.histogram, text)
        if hit is None:
            return False
        self.counter("netstat-s", hit[0], hit[1], n)
        return True

    def sysctl_line(self, line: str, text: str) -> bool:
        """``sysctl -a`` / sysctl.conf lines, and ``grep . /proc/sys/...`` output (``/proc/sys/...:128``)."""
        m = _PROC_SYS_VALUE.match(text)
        if m:
            self.sysctl(proc_path_to_key(m.group(1)), m.group(2))
            return True
        m = _SYSCTL_LINE.match(line)
        if (
            m
            and (m.group("key").startswith(_SYSCTL_ROOTS) or m.group("key").startswith("/proc/sys/"))
            and (m.group("sep") == "=" or PROC_SYS.match(m.group("key")))
        ):
            self.sysctl(m.group("key"), m.group("value"))
            return True
        return False

    def info_line(self, text: str) -> bool:
        """Other ``/proc/meminfo`` and ``/etc/os-release`` lines: recognised, not used."""
        if _INFO_LINE.match(text) and not SECTION_HEADER.match(text):
            return self.seen()
        return False
