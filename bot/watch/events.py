"""The watch's events as JSON-ready dicts (``whycant watch --json`` prints one per line; the chat
sinks render the same dicts)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.watch.episodes import Episode


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def started(watch: dict[str, Any], *, joined: bool, resumed: bool = False) -> dict[str, Any]:
    return {
        "event": "started",
        "watch": watch["id"],
        "target": watch["target"],
        "vantages": watch["vantages"],
        "interval_s": watch["interval_s"],
        "ends_at": watch["ends_at"],
        "joined": joined,
        "resumed": resumed,
    }


def episode(watch_id: int, ep: Episode) -> dict[str, Any]:
    return {
        "event": "episode",
        "watch": watch_id,
        "number": ep.number,
        "start": iso(ep.start),
        "vantages": list(ep.vantages),
        "outcomes": dict(ep.outcomes),
        "burst": dict(ep.burst),
        "findings": list(ep.findings),
        "verdict": ep.verdict,
        "incident": ep.incident,
        "partial": ep.partial,
    }


def recovered(watch_id: int, ep: Episode) -> dict[str, Any]:
    return {
        "event": "recovered",
        "watch": watch_id,
        "number": ep.number,
        "start": iso(ep.start),
        "end": iso(ep.end),
        "duration_s": round((ep.end or ep.start) - ep.start, 1),
        "failed_attempts": ep.failed_attempts,
        "vantages": list(ep.vantages),
    }


def partial(watch_id: int, zone: str, reason: str, note: str, vantages: list[str], *, counters: bool) -> dict[str, Any]:
    """A zone stopped taking part in the rounds (``reason``: no-runner, late, refused) or does again (``ok``).

    *vantages* are that zone's vantages (not tried while it is out); *counters*: the target is in that zone."""
    return {
        "event": "partial",
        "watch": watch_id,
        "zone": zone,
        "reason": reason,
        "note": note,
        "vantages": list(vantages),
        "counters": counters,
    }


def summary(watch_id: int, target: str, status: str, body: dict[str, Any]) -> dict[str, Any]:
    eps = [{**e, "start": iso(e.get("start")), "end": iso(e.get("end"))} for e in body["episodes"]]
    return {"event": "summary", "watch": watch_id, "target": target, "status": status, **body, "episodes": eps}
