"""Counter runs assembled into snapshots (before/after), the time between them, and net-tools' omitted zeros."""

from __future__ import annotations

from probes.parsers.paste.model import CounterRun
from probes.parsers.paste.wording import SECTION_HEADER, SECTIONS


def snapshots(runs: list[CounterRun]) -> list[CounterRun]:
    """Group counter runs into snapshots: runs with disjoint keys (``cat /proc/net/snmp`` then
    ``/proc/net/netstat``) merge; a run repeating a key starts the next snapshot."""
    out: list[CounterRun] = []
    for run in runs:
        cur = out[-1] if out else None
        if cur is not None and not (cur.counters.keys() & run.counters.keys()):
            cur.counters.update(run.counters)
            cur.sections |= run.sections
            if run.fmt != cur.fmt:
                cur.fmt = "mixed"
            continue
        out.append(
            CounterRun(
                fmt=run.fmt,
                counters=dict(run.counters),
                sections=set(run.sections),
                command=run.command,
                first_line=run.first_line,
                at=run.at,
                slept=run.slept,
            )
        )
    return out


def window_between(snaps: list[CounterRun]) -> tuple[float | None, str]:
    """Seconds between the first and last snapshot: from their `date` lines, else the `sleep N` between them."""
    first, last = snaps[0], snaps[-1]
    if first.at is not None and last.at is not None and last.at > first.at:
        return last.at - first.at, "the date lines"
    slept = sum(s.slept for s in snaps[1:])
    return (slept, "the sleep in the command lines") if slept > 0 else (None, "")


def zero_fill(before: CounterRun, after: CounterRun) -> dict[str, int]:
    """*before*'s counters plus 0 for every key net-tools omitted there.

    ``netstat -s`` prints most TcpExt counters only when non-zero, so a key that only
    the after-run shows was 0 before, provided the before-run is ``netstat -s`` output
    that had the key's section (or was a header-less grep fragment of it).
    """
    out = dict(before.counters)
    if before.fmt not in ("netstat-s", "mixed"):
        return out
    for key in after.counters:
        section = key.split(".", 1)[0]
        if key not in out and (section in before.sections or not before.sections):
            out[key] = 0
    return out


def netstat_run(text: str, counters: dict[str, int]) -> CounterRun:
    """A CounterRun for a whole ``netstat -s`` text parsed elsewhere (``--before``/``--after``)."""
    sections = {
        m.group(1)
        for m in map(SECTION_HEADER.match, (" ".join(x.split()) for x in text.splitlines()))
        if m and m.group(1) in SECTIONS
    }
    return CounterRun(fmt="netstat-s", counters=counters, sections=sections)
