"""The drift lenses: pure functions over collected values (no I/O), each returning a list of
:class:`~bot.drift.model.Drift`.

* ``baseline``  — per-group policy from the config: ``bot.drift.baseline``;
* ``known-bad`` — the playbook rules that judge a host from sysctls and facts alone: ``bot.drift.known_bad``;
* ``outlier``   — a value that differs from the majority of the host's group peers
  (only when at least ``MIN_PEERS`` hosts of the group report the key);
* ``changed``   — against the host's previous stored snapshot;
* ``persisted`` — the running value differs from what the sysctl files apply at next boot.

The last three compare a host with its peers or with itself, and live here.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Mapping, Sequence

from bot.drift.model import VOLATILE_KEYS, Drift, normalize, same
from bot.engine.values import fmt_value as fmt  # a value as sysctl files spell it

MIN_PEERS = 3

#: Keys the kernel sizes from the machine (RAM, CPUs) by default: peers differ on them
#: whenever their hardware differs, so the outlier lens compares them only among peers
#: of the same size (memory rounded to the GB and CPU count).
AUTO_SIZED_KEYS = frozenset(
    {
        "net.ipv4.tcp_mem",
        "net.ipv4.udp_mem",
        "fs.file-max",
        "fs.nr_open",
        "net.ipv4.tcp_max_orphans",
        "net.ipv4.tcp_max_tw_buckets",
        "net.netfilter.nf_conntrack_max",
        "net.netfilter.nf_conntrack_buckets",
        "net.nf_conntrack_max",
        "net.ipv4.ipfrag_high_thresh",
        "net.ipv4.tcp_max_syn_backlog",
        "net.ipv4.route.max_size",
        "kernel.threads-max",
        "kernel.pid_max",
    }
)


def _key_str(v: Any) -> str:
    return repr(normalize(v))


def lens_outlier(
    values: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, Sequence[str]],
    sizes: Mapping[str, Any] | None = None,
    *,
    min_peers: int = MIN_PEERS,
) -> list[Drift]:
    """Hosts whose value of a key differs from the strict majority of their group.

    *values*: host -> sysctls; *groups*: group -> hosts; *sizes*: host -> (mem GB, cpus) for
    :data:`AUTO_SIZED_KEYS`. A group counts only when at least *min_peers* of its hosts report
    the key, and a majority exists (more than half agree). One drift per (host, key), from the
    first group that flags it.
    """
    out: dict[tuple[str, str], Drift] = {}
    for group, members in sorted(groups.items()):
        hosts = [h for h in members if h in values]
        if len(hosts) < min_peers:
            continue
        keys = sorted({k for h in hosts for k in values[h]} - VOLATILE_KEYS)
        for key in keys:
            buckets: dict[Any, list[str]] = {}
            for h in hosts:
                if key not in values[h]:
                    continue
                cls = (sizes or {}).get(h) if key in AUTO_SIZED_KEYS else None
                buckets.setdefault(cls, []).append(h)
            for cls, peer_hosts in buckets.items():
                if len(peer_hosts) < min_peers:
                    continue
                counts = Counter(_key_str(values[h][key]) for h in peer_hosts)
                top, n = counts.most_common(1)[0]
                if n * 2 <= len(peer_hosts) or n == len(peer_hosts):
                    continue
                majority_val = next(values[h][key] for h in peer_hosts if _key_str(values[h][key]) == top)
                size_note = ""
                if cls is not None:
                    size_note = f", same size ({cls[0]} GB, {cls[1]} CPUs)" if isinstance(cls, tuple) else ""
                for h in peer_hosts:
                    if _key_str(values[h][key]) != top and (h, key) not in out:
                        out[(h, key)] = Drift(
                            h,
                            key,
                            values[h][key],
                            f"== {fmt(majority_val)}",
                            "outlier",
                            detail=f"{n} of {len(peer_hosts)} hosts in group {group}{size_note} have "
                            f"{fmt(majority_val)}",
                            fix=f"sysctl -w {key}='{fmt(majority_val)}'",
                        )
    return sorted(out.values(), key=lambda d: (d.host, d.key))


# ----------------------------------------------------------------------------- changed


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "the previous run"


def lens_changed(
    host: str, current: Mapping[str, Any], previous: Mapping[str, Any] | None, previous_at: datetime | None = None
) -> list[Drift]:
    """Keys whose value differs from the previous snapshot (appeared or vanished keys too)."""
    if previous is None:
        return []
    out: list[Drift] = []
    for key in sorted(set(current) | set(previous)):
        if key in VOLATILE_KEYS:
            continue
        before, now = previous.get(key), current.get(key)
        if key not in previous or key not in current or not same(before, now):
            out.append(
                Drift(
                    host,
                    key,
                    now,
                    f"{fmt(before)} (as on {_when(previous_at)})",
                    "changed",
                    severity="info",
                    detail=f"{fmt(before)} → {fmt(now)} since {_when(previous_at)}",
                )
            )
    return out


# ----------------------------------------------------------------------------- persisted


def lens_persisted(host: str, running: Mapping[str, Any], persisted: Mapping[str, tuple[Any, str]]) -> list[Drift]:
    """Running value vs what the sysctl files will apply at the next boot, either direction.

    *persisted*: key -> (value, source file). Glob keys (``net.ipv4.conf.*.rp_filter``) and
    keys the running kernel does not have (or that could not be read) are not compared.
    """
    out: list[Drift] = []
    for key, (want, source) in sorted(persisted.items()):
        if "*" in key or key in VOLATILE_KEYS:
            continue
        if key not in running or running[key] is None:
            continue
        if not same(running[key], want):
            out.append(
                Drift(
                    host,
                    key,
                    running[key],
                    f"{fmt(want)} (at next boot, from {source})",
                    "persisted",
                    detail=f"running {fmt(running[key])}, {source} sets {fmt(want)}: either the "
                    "running value was changed without persisting it, or the file was "
                    "edited and not applied",
                    fix=f"persist the running value in {source}, or apply the file: sysctl -w {key}='{fmt(want)}'",
                )
            )
    return out
