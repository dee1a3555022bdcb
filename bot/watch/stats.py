"""Attempt counts per vantage in one-minute buckets; the summary and the console table. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Mapping

Buckets = dict[str, dict[str, list[int]]]  # vantage -> str(minute epoch) -> [attempts, failures]


def record(buckets: Buckets, vantage: str, at: float, ok: bool) -> None:
    minute = str(int(at // 60) * 60)
    cell = buckets.setdefault(vantage, {}).setdefault(minute, [0, 0])
    cell[0] += 1
    if not ok:
        cell[1] += 1


def totals(buckets: Mapping[str, Mapping[str, list[int]]]) -> tuple[dict[str, int], dict[str, int]]:
    attempts = {v: sum(c[0] for c in b.values()) for v, b in buckets.items()}
    failures = {v: sum(c[1] for c in b.values()) for v, b in buckets.items()}
    return attempts, failures


def per_hour(buckets: Mapping[str, Mapping[str, list[int]]]) -> list[dict[str, Any]]:
    """Rows ``{"hour": ISO, "vantage": v, "attempts": n, "failures": f}`` in time order."""
    acc: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for v, b in buckets.items():
        for minute, (a, f) in b.items():
            cell = acc[(int(minute) // 3600 * 3600, v)]
            cell[0] += a
            cell[1] += f
    return [
        {
            "hour": datetime.fromtimestamp(h, timezone.utc).strftime("%Y-%m-%dT%H:00Z"),
            "vantage": v,
            "attempts": a,
            "failures": f,
        }
        for (h, v), (a, f) in sorted(acc.items())
    ]


def summary(
    buckets: Mapping[str, Mapping[str, list[int]]],
    episodes: list[dict[str, Any]],
    *,
    capped: int = 0,
    note: str | None = None,
    untested: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``summary`` event: attempts and failures per vantage and per hour, episodes, findings."""
    attempts, failures = totals(buckets)
    findings: dict[str, int] = {}
    for ep in episodes:
        for f in ep.get("findings") or []:
            findings[f["id"]] = findings.get(f["id"], 0) + 1
    return {
        "attempts": attempts,
        "failures": failures,
        "per_hour": per_hour(buckets),
        "episodes": episodes,
        "findings": findings,
        "capped": capped,
        "note": note,
        "untested": {v: dict(u) for v, u in (untested or {}).items()},
    }


def _when(ts: float | str | None) -> str:
    if ts is None:
        return "-"
    if isinstance(ts, str):  # ISO from an event
        return ts[11:19]
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")


def text_table(s: Mapping[str, Any]) -> str:
    """The console's summary: one row per vantage, one per hour and vantage, one per episode."""
    lines = [f"{'vantage':<12} {'attempts':>8} {'failures':>8} {'fail%':>6}"]
    for v in sorted(s["attempts"]):
        a, f = s["attempts"][v], s["failures"].get(v, 0)
        lines.append(f"{v:<12} {a:>8} {f:>8} {(100.0 * f / a if a else 0):>5.1f}%")
    if s.get("per_hour"):
        lines += ["", f"{'hour (UTC)':<18} {'vantage':<12} {'attempts':>8} {'failures':>8}"]
        lines += [f"{r['hour']:<18} {r['vantage']:<12} {r['attempts']:>8} {r['failures']:>8}" for r in s["per_hour"]]
    lines += ["", f"episodes: {len(s['episodes'])}"]
    for ep in s["episodes"]:
        ids = ", ".join(f["id"] for f in ep.get("findings") or []) or "no finding"
        inc = f" incident {ep['incident']}" if ep.get("incident") else ""
        lines.append(
            f"  #{ep['number']} {_when(ep.get('start'))}–{_when(ep.get('end'))} "
            f"{', '.join(ep.get('vantages') or []) or 'counters'}: {ids}{inc}"
        )
    for v, u in sorted((s.get("untested") or {}).items()):
        lines.append(f"{v} could not test in {u['rounds']} round(s): {u['last_error']}")
    if s.get("capped"):
        lines.append(f"attempts skipped by the SYN cap: {s['capped']}")
    if s.get("note"):
        lines.append(f"note: {s['note']}")
    return "\n".join(lines)
