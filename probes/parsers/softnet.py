"""Per-CPU kernel tables that rules read as counters.

``/proc/net/softnet_stat`` (hex, one row per CPU, no header) and the
neighbour-table stats ``/proc/net/stat/arp_cache`` / ``ndisc_cache`` (hex,
header + one row per CPU), summed into ``Group.Name`` counter keys.
"""

from __future__ import annotations

import re

from probes.errors import ParseError
from probes.parsers._common import check_text
from probes.parsers.facts import parse_nf_conntrack_stat

_HEX = re.compile(r"[0-9a-fA-F]{1,16}\Z")
# Column order of softnet_stat (kernel net/core/net-procfs.c); later kernels append columns.
_SOFTNET_COLS = ("Processed", "Dropped", "TimeSqueeze")


def parse_softnet_stat(text: str, probe: str = "softnet-stat") -> dict[str, int]:
    """Sum processed/dropped/time_squeeze over CPUs: ``Softnet.Dropped`` and friends."""
    check_text(text, probe)
    out = {f"Softnet.{c}": 0 for c in _SOFTNET_COLS}
    for n, line in enumerate(text.splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) < len(_SOFTNET_COLS) or not all(_HEX.match(c) for c in cells):
            raise ParseError(probe, f"expected hex columns, got {line.strip()[:60]!r}", line=n)
        for name, cell in zip(_SOFTNET_COLS, cells):
            out[f"Softnet.{name}"] += int(cell, 16)
    return out


def parse_neigh_cache_stat(text: str, group: str, probe: str = "neigh-cache-stat") -> dict[str, int]:
    """``/proc/net/stat/arp_cache`` -> ``ArpCache.TableFulls`` etc. (summed over CPUs)."""
    cols = parse_nf_conntrack_stat(text, probe=probe)
    return {f"{group}.{''.join(p.capitalize() for p in k.split('_'))}": v for k, v in cols.items()}
