"""Computed fix values: sizes scaled to the host's memory and the observed load.

Pure functions, exposed to playbook templates by name (``scale_backlog(mem_gb,
overflow_rate)``). Every value is a function of evidence, never a canned number.
"""

from __future__ import annotations

import math

SOMAXCONN_CAP = 65535  # the accept backlog is a u16 on the kernels that matter most


def next_pow2(n: float) -> int:
    n = max(int(math.ceil(n)), 1)
    return 1 << (n - 1).bit_length()


def _clamp(v: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, v)))


def scale_backlog(mem_gb: float | None, overflow_rate: float = 0.0, current: int | None = None) -> int:
    """Accept backlog (``net.core.somaxconn``) for a host of *mem_gb* seeing *overflow_rate*/s.

    Memory term: 128 slots per GB (4 GB -> 512, 32 GB -> 4096, 512 GB -> 65535); load
    term: the current backlog doubled plus two seconds of observed overflow. Never
    below the modern kernel default (4096), never above 65535.
    """
    by_mem = next_pow2((mem_gb or 0) * 128) if mem_gb else 4096
    by_load = 0
    if overflow_rate and overflow_rate > 0:
        by_load = next_pow2(max(current or 128, 128) * 2 + overflow_rate * 2)
    return _clamp(max(4096, by_mem, by_load, current or 0), 128, SOMAXCONN_CAP)


def scale_syn_backlog(mem_gb: float | None, drop_rate: float = 0.0, current: int | None = None) -> int:
    """``net.ipv4.tcp_max_syn_backlog``: twice the accept backlog for that memory and load."""
    by_mem = next_pow2(mem_gb * 128) if mem_gb else 4096
    base = max(4096, by_mem) * 2
    if drop_rate and current:
        base = max(base, next_pow2(current * 2 + drop_rate * 2))
    return _clamp(max(base, current or 0), 256, 1 << 20)


def app_backlog(somaxconn: int) -> int:
    """What to pass to ``listen()``: the kernel silently caps it at somaxconn."""
    return int(somaxconn)


def conntrack_max_for(mem_gb: float | None, count: int | None = None) -> int:
    """``nf_conntrack_max`` like the kernel's heuristic (one entry per 16 KiB of RAM),
    at least twice the current count, capped at 4 Mi entries (~1.2 GB of entries)."""
    mem_bytes = (mem_gb or 4) * (1 << 30)
    by_mem = int(mem_bytes // 16384)
    want = max(by_mem, (count or 0) * 2, 262144)
    return _clamp(next_pow2(want) if want > 262144 else want, 65536, 1 << 22)


def conntrack_buckets_for(conntrack_max: int) -> int:
    """Hash size for ``nf_conntrack_max``: max/4, a power of two (kernel guidance)."""
    return max(16384, next_pow2(conntrack_max / 4))


def port_range_for(current: list[int] | None, listener_ports: list[int] | None = None) -> list[int]:
    """A wider ephemeral range: start at 10240 (or above the highest listening port in
    the way), end at 65535. Returned as [low, high]."""
    low0, high0 = (current or [32768, 60999])[:2]
    low = 10240
    blockers = sorted(p for p in (listener_ports or []) if low <= p < low0)
    if blockers:
        low = blockers[-1] + 1
    return [min(low, low0), max(high0, 65535)]


def port_range_size(r: list[int] | None) -> int:
    if not r or len(r) < 2:
        return 28232
    return int(r[1]) - int(r[0]) + 1


def tw_buckets_for(mem_gb: float | None, current: int | None = None, tw_now: int | None = None) -> int:
    """``tcp_max_tw_buckets``: 16 Ki per GB of RAM (a bucket is ~200 bytes), at least
    double the current limit and the observed TIME-WAIT count, capped at 4 Mi."""
    by_mem = int((mem_gb or 4) * 16384)
    want = max(by_mem, (current or 0) * 2, (tw_now or 0) * 2, 262144)
    return _clamp(next_pow2(want), 65536, 1 << 22)


def rmem_max_for(mem_gb: float | None) -> int:
    """Receive buffer ceiling: 4 MiB under 4 GB, 16 MiB under 64 GB, 64 MiB above."""
    g = mem_gb or 4
    return (4 << 20) if g < 4 else (16 << 20) if g < 64 else (64 << 20)


def tcp_mem_for(mem_gb: float | None) -> list[int]:
    """``tcp_mem`` (pages): pressure at 1/8 of RAM, max at 3/16 (kernel default ~1/16)."""
    pages = int((mem_gb or 4) * (1 << 30) // 4096)
    return [pages * 3 // 32, pages // 8, pages * 3 // 16]


def orphans_for(mem_gb: float | None, current: int | None = None, orphans_now: int | None = None) -> int:
    """``tcp_max_orphans``: 4 Ki per GB (an orphan may pin ~64 KB), at least 2x current use."""
    want = max(int((mem_gb or 4) * 4096), (current or 0) * 2, (orphans_now or 0) * 2, 65536)
    return next_pow2(want)


def netdev_backlog_for(cpus: int | None, current: int | None = None, drop_rate: float = 0.0) -> int:
    want = max((current or 1000) * 2, 1000 * max(cpus or 1, 1) // 2, int(drop_rate * 4), 4096)
    return _clamp(next_pow2(want), 1000, 1 << 18)


def gc_thresh_for(current3: int | None) -> list[int]:
    """Neighbour table thresholds: quadruple the hard limit (at least 8192)."""
    t3 = max((current3 or 1024) * 4, 8192)
    return [t3 // 8, t3 // 2, t3]
