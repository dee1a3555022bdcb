"""Evidence: the versioned, JSON-serialisable seam between probes and rules.

Anything that produces an ``Evidence`` (live probes, a recording, pasted text)
can be diagnosed by the same rules, and every incident stores the evidence it
was diagnosed from.
"""

from __future__ import annotations

import re
import statistics
from typing import Literal

from pydantic import BaseModel, Field

EVIDENCE_VERSION = 1

Outcome = Literal["ok", "refused", "timeout", "reset", "unreachable", "addr_not_avail", "error"]
OUTCOMES: tuple[str, ...] = ("ok", "refused", "timeout", "reset", "unreachable", "addr_not_avail", "error")

SysctlValue = int | list[int] | str

_KERNEL = re.compile(r"\s*(\d+)\.(\d+)(?:\.(\d+))?")


def kernel_version_tuple(release: str | None) -> tuple[int, int, int] | None:
    """``"3.10.0-1160.el7.x86_64"`` -> (3, 10, 0); ``"5.4"`` -> (5, 4, 0); None if unparseable."""
    if not isinstance(release, str):
        return None
    m = _KERNEL.match(release)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


class ProbeRecord(BaseModel):
    """One probe run on one host: what ran, how long, and its error if any."""

    host: str
    probe: str  # counters_t0, counters_t1, sysctls, listeners, sockstat, facts, conntrack, connect, persisted_sysctls
    command: str
    duration_s: float = 0.0
    error: str | None = None
    error_kind: str | None = None  # connect, auth, host-key, timeout, parse, unsupported, ...

    @property
    def ok(self) -> bool:
        return self.error is None


class Listener(BaseModel):
    """A LISTEN socket from ``ss -ltn``: Recv-Q = accept queue now, Send-Q = backlog."""

    local_address: str  # "0.0.0.0", "127.0.0.1", "::", "*", "10.0.0.5"
    port: int
    recv_q: int
    send_q: int
    family: Literal["inet", "inet6"] = "inet"
    interface: str | None = None  # scoped "127.0.0.53%lo" -> "lo"

    @property
    def loopback_only(self) -> bool:
        return self.local_address.startswith("127.") or self.local_address in ("::1",)

    @property
    def wildcard(self) -> bool:
        return self.local_address in ("0.0.0.0", "::", "*", "[::]")


class Facts(BaseModel):
    os: str | None = None  # uname -s: "Linux"
    kernel_release: str | None = None  # "3.10.0-1160.el7.x86_64"
    distro: str | None = None
    mem_total_kb: int | None = None
    cpus: int | None = None
    conntrack_count: int | None = None
    conntrack_max: int | None = None
    conntrack_stats: dict[str, int] | None = None  # summed over CPUs: drop, early_drop, insert_failed, invalid
    ip_local_port_range: list[int] | None = None
    uptime_s: float | None = None  # from a pasted `uptime`; judges since-boot counters per day
    kernel_log: dict[str, int] | None = None  # pasted kernel messages by kind (nf_conntrack_table_full: 3, ...)

    @property
    def mem_gb(self) -> float | None:
        return None if self.mem_total_kb is None else self.mem_total_kb / 1024 / 1024

    @property
    def kernel_version(self) -> tuple[int, int, int] | None:
        return kernel_version_tuple(self.kernel_release) if self.kernel_release else None


class DropReason(BaseModel):
    """Packets the kernel freed with one drop reason at one location during the probe window."""

    host: str
    reason: str  # NETFILTER_DROP, IP_RPFILTER, TCP_LISTEN_OVERFLOW, ... (skb_drop_reason without prefix)
    location: str  # kernel function: nft_do_chain, ip_rcv_finish_core, ...
    count: int
    attribution: Literal["target", "uncertain"] = "target"  # see docs/drop-reasons.md
    devices: list[str] = Field(default_factory=list)  # receiving devices, when traced
    sources: list[str] = Field(default_factory=list)  # packet source addresses, when traced


class DropTrace(BaseModel):
    """The drop-reason trace of one host (``skb:kfree_skb``) around the connect tests."""

    status: Literal["ok", "unavailable", "failed"]
    detail: str  # one line: what was traced, or why it could not be
    instance: str | None = None  # /sys/kernel/tracing/instances/whycant-<id>
    window_s: float | None = None
    shared_kernel: bool = False  # the kernel runs other network namespaces: attribution by address
    reasons: list[DropReason] = Field(default_factory=list)  # drops on this host (or uncertain)
    elsewhere: list[DropReason] = Field(default_factory=list)  # this diagnosis' packets, other namespace
    ignored: int = 0  # drops of unrelated traffic (other namespaces' addresses)
    lost: int = 0  # events the ring buffer overwrote


class HostEvidence(BaseModel):
    """Everything collected from one host (the target, usually)."""

    host: str
    address: str | None = None
    counters_t0: dict[str, int] | None = None
    counters_t1: dict[str, int] | None = None
    t0_at: float | None = None  # wall-clock epoch seconds
    t1_at: float | None = None
    sysctls: dict[str, SysctlValue] | None = None
    persisted_sysctls: dict[str, SysctlValue] | None = None
    listeners: list[Listener] | None = None
    sockstat: dict[str, int] | None = None  # ss -s / /proc/net/sockstat: estab, timewait, orphan, ...
    facts: Facts | None = None
    drops: DropTrace | None = None  # probes/drop_reasons.py
    probes: list[ProbeRecord] = Field(default_factory=list)
    # how files were read ("sftp", "exec" where the host has no SFTP, "local"); None: none read
    file_access: str | None = None
    # files that exist but could not be read, and why ("not readable by whycant")
    unreadable: dict[str, str] = Field(default_factory=dict)
    # what was cut short (command output beyond ssh.max_output_bytes, ...)
    notes: list[str] = Field(default_factory=list)

    @property
    def window_s(self) -> float | None:
        if self.t0_at is None or self.t1_at is None:
            return None
        return max(self.t1_at - self.t0_at, 0.0)

    @property
    def counters_delta(self) -> dict[str, int]:
        """T1 - T0 for keys present in both (a counter reset or wrap is reported as 0)."""
        if not self.counters_t0 or not self.counters_t1:
            return {}
        out: dict[str, int] = {}
        for key, v1 in self.counters_t1.items():
            v0 = self.counters_t0.get(key)
            if v0 is None:
                continue
            d = v1 - v0
            out[key] = d if d >= 0 else 0
        return out

    @property
    def counters(self) -> dict[str, int]:
        """The newest absolute counters available."""
        return self.counters_t1 or self.counters_t0 or {}

    def errors(self) -> list[ProbeRecord]:
        return [p for p in self.probes if not p.ok]


class ConnectAttempt(BaseModel):
    outcome: Outcome
    latency_ms: float
    detail: str | None = None  # errno name or message


class ConnectResult(BaseModel):
    """N connect attempts from one vantage to target:port."""

    vantage: str
    vantage_host: str
    target_address: str
    port: int
    attempts: list[ConnectAttempt] = Field(default_factory=list)
    runner: str | None = None  # "python3", "bash", "local"
    nat: bool = False  # the vantage sits behind NAT (from its config note/flag)
    note: str | None = None
    error: str | None = None  # the vantage itself could not run the test
    error_kind: str | None = None
    duration_s: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.attempts if a.outcome == outcome)

    @property
    def p50_ms(self) -> float | None:
        ok = [a.latency_ms for a in self.attempts if a.outcome == "ok"]
        return round(statistics.median(ok), 2) if ok else None

    def summary(self) -> dict:
        """The design's per-vantage connect row (docs/architecture.md §Front ends and contracts)."""
        row: dict = {"vantage": self.vantage, "attempts": len(self.attempts)}
        for o in OUTCOMES:
            row[o] = self.count(o)
        row["p50_ms"] = self.p50_ms
        if self.error:
            row["vantage_error"] = self.error
        return row


class Request(BaseModel):
    """What was asked, after parsing and inventory resolution."""

    text: str = ""
    target: str  # inventory host name
    address: str
    resolved_address: str | None = None  # the IP a DNS-name address resolved to for connect tests
    port: int | None = None
    service: str | None = None
    vantages: list[str] = Field(default_factory=list)
    who: str | None = None


class Evidence(BaseModel):
    version: int = EVIDENCE_VERSION
    source: Literal["live", "replay", "pasted"] = "live"
    request: Request | None = None
    target: HostEvidence | None = None
    connect: list[ConnectResult] = Field(default_factory=list)
    started_at: float | None = None
    duration_s: float = 0.0

    def probe_errors(self) -> list[dict]:
        """Every failed probe, target and vantages alike (docs/architecture.md §Front ends and contracts ``probe_errors``)."""
        out = []
        if self.target:
            out += [{"host": p.host, "probe": p.probe, "error": p.error} for p in self.target.errors()]
        for c in self.connect:
            if c.error:
                out.append({"host": c.vantage_host, "probe": f"connect:{c.vantage}", "error": c.error})
        return out

    @property
    def partial(self) -> bool:
        return bool(self.probe_errors())
