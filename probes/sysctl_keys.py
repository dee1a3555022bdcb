"""The sysctls diagnosis needs: read these files, not all ~1,300 of `sysctl -a`."""

from __future__ import annotations

import re

SYSCTL_KEYS: tuple[str, ...] = (
    "net.core.somaxconn",
    "net.core.netdev_max_backlog",
    "net.core.netdev_budget",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.core.rmem_default",
    "net.core.wmem_default",
    "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_mem",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_invalid_ratelimit",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.all.log_martians",
    "net.ipv4.neigh.default.gc_thresh1",
    "net.ipv4.neigh.default.gc_thresh2",
    "net.ipv4.neigh.default.gc_thresh3",
    "net.ipv4.ipfrag_high_thresh",
    "net.ipv4.ipfrag_time",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_be_liberal",
    "net.nf_conntrack_max",
    "vm.overcommit_memory",
    "fs.file-max",
    "fs.nr_open",
    "kernel.osrelease",
)


def keys_for(extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The default keys plus any the rules or baselines name, sorted and unique."""
    return sorted(set(SYSCTL_KEYS) | {k for k in extra if _valid_key(k)})


def _valid_key(key: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9_][a-z0-9_.\-]*", key)) and ".." not in key
