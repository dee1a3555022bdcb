"""The counter part of a rule's context: deltas, absolutes, rates, and how a single snapshot is judged
(``bot.engine.snapshot``): ``d``, ``c``, ``v``, ``rate_of``, ``rising``, ``cite``, ``has_counter``, ``moving``,
``judged``, ``unjudged``, ``window_text``."""

from __future__ import annotations

from typing import Any

from bot.engine import snapshot
from probes.evidence import HostEvidence


def counter_context(tgt: HostEvidence | None) -> dict[str, Any]:
    """Counters of the target (two samples or one snapshot) and the helpers rules judge them with."""
    facts = tgt.facts if tgt else None
    counters = dict(tgt.counters) if tgt else {}
    delta = dict(tgt.counters_delta) if tgt else {}
    window_s = tgt.window_s if tgt else None
    has_delta = bool(tgt and tgt.counters_t0 and tgt.counters_t1)
    if has_delta and not window_s:
        window_s = None
    rate = {k: (v / window_s) for k, v in delta.items()} if (has_delta and window_s) else {}
    has_counters = bool(counters)

    def d(key: str) -> int:
        return int(delta.get(key, 0))

    def c(key: str) -> int:
        return int(counters.get(key, 0))

    def v(key: str) -> int:
        return d(key) if has_delta else c(key)

    def rate_of(key: str) -> float:
        return float(rate.get(key, 0.0))

    def has_counter(key: str) -> bool:
        return key in counters

    uptime_s = facts.uptime_s if facts else None
    kernel_log = dict(facts.kernel_log or {}) if facts else {}

    def judged(key: str, min_abs: int = 1000) -> str:
        """How a snapshot counter is judged: delta | ratio | unjudged | absolute (see bot.engine.snapshot)."""
        return "delta" if has_delta else snapshot.judge(key, counters, min_abs).basis

    def rising(key: str, min_delta: int = 1, min_abs: int = 1000) -> bool:
        """Rose by *min_delta* between samples; in a single snapshot, a significant share of the
        traffic it saw (``bot.engine.snapshot.TRAFFIC``), else (no traffic ratio defined) >= *min_abs*."""
        if has_delta:
            return d(key) >= min_delta
        if has_counters:
            return snapshot.judge(key, counters, min_abs).significant
        return False

    def unjudged(keys: list[str] | str) -> list[str]:
        """The snapshot counters among *keys* that fired without the traffic counter to weigh them by."""
        keys = [keys] if isinstance(keys, str) else keys
        if has_delta or not has_counters:
            return []
        return [k for k in keys if c(k) > 0 and snapshot.judge(k, counters, 1).basis == "unjudged"]

    def moving(keys: list[str], min_delta: int = 1, min_abs: int = 1000) -> list[str]:
        """The subset of *keys* that rose (or, single snapshot, exceed *min_abs*)."""
        return [k for k in keys if rising(k, min_delta, min_abs)]

    def window_text() -> str:
        if has_delta:
            return f"in {_num(round(window_s, 1))} s" if window_s else "between the two samples"
        return "since boot (single snapshot)"

    def cite(key: str) -> str:
        if has_delta:
            if key not in delta:
                return f"{key} not reported by this kernel" if counters and key not in counters else f"{key} +0"
            s = f"{key} +{d(key)} {window_text()}"
            if window_s and d(key):
                s += f" ({rate_of(key):.1f}/s)"
            return s
        if key not in counters:
            return f"{key} not reported"
        how = snapshot.describe(snapshot.judge(key, counters, 1), uptime_s) if c(key) else ""
        return f"{key} {c(key)} {window_text()}" + (f" {how}" if how.startswith("=") else f", {how}" if how else "")

    return {
        "counters": counters,
        "delta": delta,
        "window_s": window_s,
        "rate": rate,
        "has_counters": has_counters,
        "has_delta": has_delta,
        "snapshot": has_counters and not has_delta,
        "d": d,
        "c": c,
        "v": v,
        "rate_of": rate_of,
        "rising": rising,
        "cite": cite,
        "has_counter": has_counter,
        "moving": moving,
        "judged": judged,
        "unjudged": unjudged,
        "uptime_s": uptime_s,
        "kernel_log": kernel_log,
        "window_text": window_text(),
    }


def _num(n: float) -> str:
    if isinstance(n, float) and not n.is_integer():
        return f"{n:.1f}"
    return f"{int(n)}"
