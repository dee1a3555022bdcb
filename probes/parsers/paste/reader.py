"""The line loop: each line of a paste is noise, a kernel message, output, a command line, a prompt,
a ``date`` line, a comment, an ``uptime`` line, or ignored (never guessed at).

:func:`read_paste_text` is pure: text in, a :class:`PasteReading` out.
"""

from __future__ import annotations

from probes.parsers.paste.model import PasteReading
from probes.parsers.paste.sections import OutputReader
from probes.parsers.paste.session import (
    command_of,
    is_bare_prompt,
    is_date_line,
    kernel_log_kind,
    noise_kind,
    parse_date,
    read_command,
    uptime_seconds,
)
from probes.parsers.paste.wording import strip_annotations

EXPECTED = (
    "netstat -s / nstat / /proc/net/netstat|snmp counters, ss -ltn or netstat -lnt listeners, "
    "sysctl -a or sysctl.conf lines, cat /proc/sys/... values, ss -s, /proc/net/sockstat, "
    "conntrack count/max"
)
_CONNTRACK_COUNT = (
    "net.netfilter.nf_conntrack_count",
    "net.nf_conntrack_count",
    "net.ipv4.netfilter.ip_conntrack_count",
)
_CONNTRACK_MAX = ("net.netfilter.nf_conntrack_max", "net.nf_conntrack_max", "net.ipv4.netfilter.ip_conntrack_max")


class SessionReader(OutputReader):
    """An :class:`OutputReader` that also follows the session: command lines end an output and
    start a new run; prompts, dates, comments and noise are counted as skipped."""

    def skip(self, kind: str) -> None:
        self.out.skipped[kind] = self.out.skipped.get(kind, 0) + 1

    def new_command(self, cmd: str) -> None:
        self.flush()
        said = read_command(cmd)
        self.slept += said.slept
        self.command = cmd
        self.run = None
        self.section = self.histogram = None
        self.proc_header = None
        self.pending_keys = said.pending_keys
        for key, value in said.sysctls:
            self.out.sysctls[key] = value
            self.out.recognised += 1

    def line(self, n: int, raw: str) -> None:
        line = raw.rstrip("\r\n")
        text = " ".join(line.split())
        if not text:
            self.histogram = None
            return
        kind = noise_kind(text)
        if kind is not None:
            return self.skip(kind)
        kind = kernel_log_kind(text)
        if kind is not None:
            self.out.kernel_log[kind] = self.out.kernel_log.get(kind, 0) + 1
            self.out.recognised += 1
            return
        text, line = strip_annotations(text), strip_annotations(line)
        if self.recognise(n, line, text):
            return
        cmd = command_of(text)
        if cmd is not None:
            self.skip("command lines")
            return self.new_command(cmd)
        if is_bare_prompt(text):
            return self.skip("prompts")
        if is_date_line(text):
            self.date = parse_date(text) or self.date
            return self.skip("date lines")
        if text.startswith(("#", ";", "//")):
            return self.skip("comments")
        up = uptime_seconds(text)
        if up is not None:
            self.out.uptime_s = up
            self.out.recognised += 1
            return
        self.out.ignored.append((n, text))


def read_paste_text(text: str | list[str]) -> PasteReading:
    """Recognise everything a paste (or several files, in order) holds (pure).

    Never raises; see :attr:`PasteReading.empty`.  Line numbers count on across files.
    """
    r = SessionReader()
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
    for key in _CONNTRACK_COUNT:
        value = out.sysctls.get(key)
        if isinstance(value, int):
            out.conntrack_count = value
    for key in _CONNTRACK_MAX:
        value = out.sysctls.get(key)
        if isinstance(value, int):
            out.conntrack_max = value
    release = out.sysctls.get("kernel.osrelease")
    if isinstance(release, str) and not out.kernel_release:
        out.kernel_release = release
    return out


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
