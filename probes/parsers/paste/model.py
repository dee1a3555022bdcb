"""What a paste reading holds: counter runs, and everything else recognised, by kind."""

from __future__ import annotations

from dataclasses import dataclass, field

from probes.evidence import Listener, SysctlValue


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
