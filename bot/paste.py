"""Pasted terminal text -> Evidence (the thin edge over :mod:`probes.parsers.paste`)."""

from __future__ import annotations

from probes.errors import BadInput
from probes.evidence import Evidence, Facts, HostEvidence, ProbeRecord, Request
from probes.parsers.paste import (
    EXPECTED,
    PasteReading,
    describe_skipped,
    read_paste_text,
    snapshots,
    window_between,
    zero_fill,
)


def evidence_from_reading(reading: PasteReading, *, host: str = "pasted") -> tuple[HostEvidence, list[str]]:
    """The target's evidence from a reading, plus notes on how the counters were used."""
    notes: list[str] = []
    ev = HostEvidence(host=host)
    snaps = snapshots(reading.counter_runs)
    if snaps:
        ev.counters_t0 = snaps[0].counters
        ev.probes.append(ProbeRecord(host=host, probe="counters_t0", command=f"pasted {snaps[0].fmt}"))
    if len(snaps) >= 2:
        before, after = snaps[0], snaps[-1]
        ev.counters_t0 = zero_fill(before, after)
        ev.counters_t1 = after.counters
        ev.probes.append(ProbeRecord(host=host, probe="counters_t1", command=f"pasted {after.fmt}"))
        filled = len(ev.counters_t0) - len(before.counters)
        notes.append(
            f"read {len(snaps)} counter snapshots: the first (line {before.first_line}) as before, "
            f"the last (line {after.first_line}) as after"
            + (f"; {filled} counter(s) net-tools omitted from the before-run taken as 0" if filled else "")
        )
        window, basis = window_between(snaps)
        if window:
            ev.t0_at, ev.t1_at = 0.0, window
            notes.append(f"{window:g} s between the two snapshots (from {basis})")
    if reading.sysctls:
        ev.sysctls = dict(reading.sysctls)
        ev.probes.append(ProbeRecord(host=host, probe="sysctls", command="pasted sysctl"))
    if reading.listeners is not None:
        ev.listeners = list(reading.listeners)
        ev.probes.append(ProbeRecord(host=host, probe="listeners", command="pasted ss/netstat"))
    if reading.sockstat:
        ev.sockstat = dict(reading.sockstat)
        ev.probes.append(ProbeRecord(host=host, probe="sockstat", command="pasted ss -s/sockstat"))
    stats = dict(reading.conntrack_stats)
    if (
        reading.kernel_release
        or reading.mem_total_kb
        or reading.uptime_s
        or stats
        or reading.kernel_log
        or reading.conntrack_count is not None
        or reading.conntrack_max is not None
    ):
        ev.facts = Facts(
            os="Linux",
            kernel_release=reading.kernel_release,
            mem_total_kb=reading.mem_total_kb,
            conntrack_count=reading.conntrack_count,
            conntrack_max=reading.conntrack_max,
            conntrack_stats=stats or None,
            uptime_s=reading.uptime_s,
            kernel_log=dict(reading.kernel_log) or None,
        )
        ev.probes.append(ProbeRecord(host=host, probe="facts", command="pasted"))
    return ev, notes


def read_paste(text: str, *, host: str = "pasted") -> tuple[Evidence, list[str]]:
    """Evidence from any terminal paste, plus human notes ("ignored 3 lines: …").
    Raises probes.errors.BadInput (with what was expected) only when nothing at all is recognised."""
    return read_pastes([text], host=host, names=["the paste"])


def read_pastes(
    texts: list[str], *, host: str = "pasted", names: list[str] | None = None
) -> tuple[Evidence, list[str]]:
    """:func:`read_paste` over several files read in order (``whycant analyze F1 F2``)."""
    names = names or [f"paste {i + 1}" for i in range(len(texts))]
    for name, text in zip(names, texts):
        if not isinstance(text, str) or not text.strip():
            raise BadInput(f"{name} is empty; expected {EXPECTED}")
        if "\x00" in text:
            raise BadInput(f"{name} is binary data (NUL bytes); expected {EXPECTED}")
    reading = read_paste_text(texts)
    if reading.empty:
        first = next((t for _, t in reading.ignored), "") or next(
            (line.strip() for t in texts for line in t.splitlines() if line.strip()), ""
        )
        skipped = "; ".join(describe_skipped(reading))
        what = skipped if skipped and not reading.ignored else f"first line {first[:60]!r}"
        raise BadInput(f"nothing recognised in the paste ({what}); expected {EXPECTED}")
    target, notes = evidence_from_reading(reading, host=host)
    notes = describe_skipped(reading) + notes
    req = Request(text="analyze", target=host, address="")
    return Evidence(source="pasted", request=req, target=target), notes
