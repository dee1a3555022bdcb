"""Judging a since-boot counter snapshot like an expert: relative to the traffic it saw.

A cumulative counter from one snapshot proves the event happened since boot, not how
much it matters: 9 overflows against 3 passive opens is a broken listener, 9 against
40 million is noise.  Each drop counter is therefore divided by the traffic counter
it is a share of (overflows per passive open, prunes per segment received, drops per
datagram) and compared with a ratio, never with a fixed absolute count.  When the
paste lacks the traffic counter the snapshot cannot be judged: the counter still
counts as seen (non-zero), and :func:`confirm_hint` says which output would confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENS = ("Tcp.ActiveOpens", "Tcp.PassiveOpens")

#: counter -> (traffic counters it is a share of, the share an expert calls a problem, what the unit reads as)
TRAFFIC: dict[str, tuple[tuple[str, ...], float, str]] = {
    "TcpExt.ListenOverflows": (("Tcp.PassiveOpens",), 0.001, "passive open"),
    "TcpExt.ListenDrops": (("Tcp.PassiveOpens",), 0.001, "passive open"),
    "TcpExt.TCPReqQFullDrop": (("Tcp.PassiveOpens",), 0.001, "passive open"),
    "TcpExt.TCPReqQFullDoCookies": (("Tcp.PassiveOpens",), 0.001, "passive open"),
    "TcpExt.SyncookiesSent": (("Tcp.PassiveOpens",), 0.01, "passive open"),
    "TcpExt.SyncookiesFailed": (("Tcp.PassiveOpens",), 0.01, "passive open"),
    "TcpExt.TCPDeferAcceptDrop": (("Tcp.PassiveOpens",), 0.01, "passive open"),
    "TcpExt.PAWSPassive": (("Tcp.PassiveOpens",), 0.0001, "passive open"),
    "TcpExt.PAWSActive": (("Tcp.ActiveOpens",), 0.001, "active open"),
    "TcpExt.PAWSEstab": (("Tcp.InSegs",), 0.0001, "segment received"),
    "TcpExt.TCPACKSkippedPAWS": (("Tcp.InSegs",), 0.0001, "segment received"),
    "TcpExt.PruneCalled": (("Tcp.InSegs",), 0.0001, "segment received"),
    "TcpExt.RcvPruned": (("Tcp.InSegs",), 0.00001, "segment received"),
    "TcpExt.OfoPruned": (("Tcp.InSegs",), 0.0001, "segment received"),
    "TcpExt.TCPRcvQDrop": (("Tcp.InSegs",), 0.00001, "segment received"),
    "TcpExt.TCPRcvCollapsed": (("Tcp.InSegs",), 0.001, "segment received"),
    "TcpExt.TCPBacklogDrop": (("Tcp.InSegs",), 0.00001, "segment received"),
    "TcpExt.TCPTimeWaitOverflow": (OPENS, 0.001, "connection"),
    "TcpExt.TCPAbortOnTimeout": (OPENS, 0.01, "connection"),
    "TcpExt.TCPAbortOnClose": (OPENS, 0.05, "connection"),
    "TcpExt.TCPAbortOnMemory": (OPENS, 0.0001, "connection"),
    "TcpExt.TCPMemoryPressures": (OPENS, 0.0001, "connection"),
    "Tcp.EstabResets": (OPENS, 0.2, "connection"),
    "Tcp.AttemptFails": (("Tcp.ActiveOpens",), 0.2, "active open"),
    "Udp.RcvbufErrors": (("Udp.InDatagrams",), 0.00005, "datagram received"),
    "Udp.MemErrors": (("Udp.InDatagrams",), 0.00005, "datagram received"),
    "Udp.InErrors": (("Udp.InDatagrams",), 0.00005, "datagram received"),
    "Udp.NoPorts": (("Udp.InDatagrams",), 0.5, "datagram received"),
    "Udp6.RcvbufErrors": (("Udp6.InDatagrams",), 0.00005, "datagram received"),
    "Udp6.InErrors": (("Udp6.InDatagrams",), 0.00005, "datagram received"),
    "TcpExt.IPReversePathFilter": (("Ip.InReceives",), 0.0001, "packet received"),
    "Ip.InAddrErrors": (("Ip.InReceives",), 0.001, "packet received"),
    "Ip.ReasmFails": (("Ip.ReasmReqds",), 0.01, "reassembly"),
    "Softnet.Dropped": (("Softnet.Processed",), 0.0001, "packet processed"),
    "Softnet.TimeSqueeze": (("Softnet.Processed",), 0.01, "packet processed"),
}


@dataclass(frozen=True)
class Judgement:
    """How one snapshot counter was judged: ``basis`` is ratio | unjudged | absolute."""

    key: str
    value: int
    basis: str
    share: float | None = None
    traffic: int | None = None
    traffic_keys: tuple[str, ...] = ()
    unit: str = ""
    significant: bool = False


def judge(key: str, counters: dict[str, int], min_abs: int) -> Judgement:
    """Judge *key* in a single snapshot of *counters* (pure)."""
    value = int(counters.get(key, 0))
    spec = TRAFFIC.get(key)
    if spec is None:
        return Judgement(key, value, "absolute", significant=value >= min_abs)
    keys, ratio, unit = spec
    if value <= 0:
        return Judgement(key, value, "ratio", 0.0, None, keys, unit, False)
    present = [k for k in keys if k in counters]
    if not present:
        return Judgement(key, value, "unjudged", None, None, keys, unit, True)
    traffic = sum(int(counters[k]) for k in present)
    share = value / traffic if traffic > 0 else float("inf")
    return Judgement(key, value, "ratio", share, traffic, keys, unit, share >= ratio)


def describe(j: Judgement, uptime_s: float | None = None) -> str:
    """The judgement as a clause for a cited evidence line."""
    parts = []
    if j.basis == "ratio" and j.traffic is not None:
        keys = " + ".join(j.traffic_keys)
        parts.append(f"= {j.share:.3g} per {j.unit} ({keys} {j.traffic})" if j.traffic else f"with {keys} 0")
    elif j.basis == "unjudged":
        parts.append(confirm_hint(j))
    if uptime_s and uptime_s > 0 and j.value:
        days = uptime_s / 86400
        parts.append(f"{j.value / max(days, 1 / 24):.3g}/day over {days:.1f} days up")
    return ", ".join(parts)


def confirm_hint(j: Judgement) -> str:
    """What output would confirm an unjudged snapshot counter."""
    return (
        f"not judged: the paste has no {' + '.join(j.traffic_keys)} to weigh it against; the full "
        "`netstat -s` (or `nstat -az`), or two runs a minute apart, would confirm it"
    )
