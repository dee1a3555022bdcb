"""Parse a tracefs ``trace`` file holding ``skb:kfree_skb`` drop-reason events.

Pure functions: trace text in, drops out. The probe (``probes.drop_reasons``) enables
three events in a private tracing instance:

* ``skb:kfree_skb`` — the drop itself: ``skbaddr``, ``location`` (symbolised, e.g.
  ``nft_do_chain+0x46f/0x690``) and ``reason`` (``NETFILTER_DROP``; Linux >= 5.17);
* ``net:netif_receive_skb`` — which device received an skb (``dev=eth0 skbaddr=…``);
* ``fib:fib_table_lookup`` — the route lookup of a received packet, which prints its
  source and destination addresses (``198.18.1.20/0 -> 198.18.1.10/0``).

None of them carries a network namespace. Within one softirq a CPU receives an skb,
looks its route up and (maybe) drops it, so per CPU the *first* route lookup after the
receive of skb X gives X's addresses (later lookups may be rp_filter's reversed check).
A drop of an skb that was never seen being received was generated locally; its
addresses come from the last output route lookup (``iif 1``, with ports) of the same
task on the same CPU, when there is one. See docs/drop-reasons.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from probes.parsers._common import check_text

PROBE = "drop_reasons"

# "  <idle>-0  [001] ..s1.  529.955180: kfree_skb: skbaddr=… reason: NETFILTER_DROP"
# (the irq-flags column is absent on some kernels / option sets)
_LINE = re.compile(
    r"^\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+(?:\S+\s+)?"
    r"(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s+(?P<rest>.*)$"
)
_KFREE = re.compile(r"skbaddr=(?P<skb>\w+)\b.*?\blocation=(?P<loc>\S+)(?:\s+reason:\s+(?P<reason>\w+))?")
_RX = re.compile(r"dev=(?P<dev>\S+)\s+skbaddr=(?P<skb>\w+)")
_FIB = re.compile(
    r"table\s+\d+\s+oif\s+(?P<oif>-?\d+)\s+iif\s+(?P<iif>-?\d+)\s+proto\s+(?P<proto>\d+)\s+"
    r"(?P<src>[\d.]+|[0-9a-fA-F:]+)/(?P<sport>\d+)\s+->\s+(?P<dst>[\d.]+|[0-9a-fA-F:]+)/(?P<dport>\d+)"
)
_ENTRIES = re.compile(r"entries-in-buffer/entries-written:\s*(\d+)/(\d+)")
LOOPBACK_IFINDEX = 1


@dataclass(frozen=True)
class TraceDrop:
    """One freed-with-a-reason skb, with what the trace says about its packet."""

    cpu: int
    ts: float
    reason: str  # "NETFILTER_DROP"; "UNKNOWN" on a kernel that prints no reason
    location: str  # the function, offset stripped: "nft_do_chain"
    received: bool  # seen in netif_receive_skb (else generated on this kernel)
    dev: str | None = None  # the receiving device's name (in its own namespace)
    src: str | None = None
    dst: str | None = None
    dport: int | None = None  # known for locally generated packets only


@dataclass(frozen=True)
class TraceResult:
    drops: list[TraceDrop]
    lost: int  # events written but no longer in the buffer (ring overran)


@dataclass
class _Cpu:
    rx_skb: str | None = None
    rx_dev: str | None = None
    flow: tuple[str, str] | None = None  # (src, dst) of the first lookup after rx_skb's receive
    out_flow: dict[str, tuple[str, str, int]] | None = None  # pid -> last output lookup


def symbol(location: str) -> str:
    """``nft_do_chain+0x46f/0x690`` -> ``nft_do_chain``; a raw address stays as it is."""
    return location.split("+", 1)[0] or location


def parse_trace(text: str) -> TraceResult:
    """All ``kfree_skb`` events of *text*, each with its receive device and addresses when known.

    Header and comment lines are skipped; lines of other events and malformed lines are
    ignored (a trace can be cut mid-line). An empty trace (only the header) is valid.
    """
    check_text(text, PROBE, tool_errors=False)
    cpus: dict[int, _Cpu] = {}
    drops: list[TraceDrop] = []
    lost = 0
    for line in text.splitlines():
        if line.startswith("#"):
            m = _ENTRIES.search(line)
            if m:
                lost = max(int(m.group(2)) - int(m.group(1)), 0)
            continue
        m = _LINE.match(line)
        if not m:
            continue
        cpu = cpus.setdefault(int(m.group("cpu")), _Cpu())
        event, rest = m.group("event"), m.group("rest")
        if event == "netif_receive_skb":
            r = _RX.search(rest)
            if r:
                cpu.rx_skb, cpu.rx_dev, cpu.flow = r.group("skb"), r.group("dev"), None
        elif event == "fib_table_lookup":
            f = _FIB.search(rest)
            if not f:
                continue
            if int(f.group("iif")) == LOOPBACK_IFINDEX and int(f.group("proto")) != 0:
                if cpu.out_flow is None:
                    cpu.out_flow = {}
                cpu.out_flow[m.group("pid")] = (f.group("src"), f.group("dst"), int(f.group("dport")))
            elif cpu.rx_skb is not None and cpu.flow is None:
                cpu.flow = (f.group("src"), f.group("dst"))
        elif event == "kfree_skb":
            k = _KFREE.search(rest)
            if not k:
                continue
            drop = partial(
                TraceDrop,
                cpu=int(m.group("cpu")),
                ts=float(m.group("ts")),
                reason=k.group("reason") or "UNKNOWN",
                location=symbol(k.group("loc")),
            )
            if k.group("skb") == cpu.rx_skb:
                src, dst = cpu.flow or (None, None)
                drops.append(drop(received=True, dev=cpu.rx_dev, src=src, dst=dst))
                cpu.rx_skb, cpu.flow = None, None
            else:
                out = (cpu.out_flow or {}).get(m.group("pid"))
                src, dst, dport = out if out else (None, None, None)
                drops.append(drop(received=False, src=src, dst=dst, dport=dport))
    return TraceResult(drops=drops, lost=lost)
