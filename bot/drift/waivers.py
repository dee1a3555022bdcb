"""Waivers: a known, accepted drift (host, key, until, reason, who), shown as waived until it expires."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, Sequence

from bot.drift.model import Drift
from probes.errors import BadInput

_REL = re.compile(r"^\+?(\d{1,4})\s*([dwh])$", re.I)
_KEY = re.compile(r"^(\*|[a-z0-9_][A-Za-z0-9_.\-/]*)$")  # interface names may have capitals
_HOST = re.compile(r"^(\*|(group:)?[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252})$")


@dataclass
class WaiverMatch:
    """A stored waiver, as the report applies it."""

    host: str  # host name, "group:NAME" or "*"
    key: str  # sysctl key or "*"
    until: datetime | None
    reason: str = ""
    who: str | None = None
    id: int | None = None
    extra: dict = field(default_factory=dict)

    def applies(self, host: str, groups: Sequence[str], key: str, now: datetime) -> bool:
        if self.until is not None and self.until <= now:
            return False
        if self.key not in ("*", key):
            return False
        if self.host in ("*", host):
            return True
        return self.host.startswith("group:") and self.host[6:] in groups


def parse_until(text: str, now: datetime | None = None) -> datetime:
    """``2026-01-31`` (through the end of that day, UTC), an ISO date-time, or ``30d``/``2w``/``12h``."""
    now = now or datetime.now(timezone.utc)
    t = (text or "").strip()
    m = _REL.match(t)
    if m:
        n, unit = int(m.group(1)), m.group(2).lower()
        return now + {"d": timedelta(days=n), "w": timedelta(weeks=n), "h": timedelta(hours=n)}[unit]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            d = date.fromisoformat(t)
            until = datetime.combine(d + timedelta(days=1), time(0, 0), tzinfo=timezone.utc)
        else:
            until = datetime.fromisoformat(t.replace("Z", "+00:00"))
            if until.tzinfo is None:
                until = until.replace(tzinfo=timezone.utc)
    except ValueError:
        raise BadInput(f"--until {text!r}: not a date (YYYY-MM-DD), an ISO date-time or a duration like 30d") from None
    if until <= now:
        raise BadInput(f"--until {text!r} is in the past")
    return until


def check_waiver_target(host: str, key: str, inventory: Any = None) -> str:
    """Validate the waiver's host (a host, ``group:NAME`` or ``*``) and key; returns the canonical host name."""
    if not _KEY.match(key or ""):
        raise BadInput(f"{key!r} is not a sysctl key (e.g. net.ipv4.tcp_tw_recycle) or '*'")
    if not _HOST.match(host or ""):
        raise BadInput(f"{host!r} is not a host name, group:NAME or '*'")
    if inventory is None or host == "*":
        return host
    if host.startswith("group:"):
        inventory.select([host])  # raises BadInput for an unknown group
        return host
    h = inventory.lookup(host)
    if h is None:
        raise inventory.unknown(host)
    return h.name


def to_matches(rows: Sequence[dict[str, Any]]) -> list[WaiverMatch]:
    return [
        WaiverMatch(
            host=r["host"],
            key=r["key"],
            until=r.get("until"),
            reason=r.get("reason") or "",
            who=r.get("who"),
            id=r.get("id"),
        )
        for r in rows
    ]


def apply_waivers(
    drifts: list[Drift], waivers: Sequence[WaiverMatch], host_groups: Mapping[str, Sequence[str]], now: datetime
) -> tuple[list[Drift], list[Drift]]:
    """Split drifts into (active, waived); a waived drift carries its waiver (until, reason, who)."""
    active: list[Drift] = []
    waived: list[Drift] = []
    for d in drifts:
        w = next((w for w in waivers if w.applies(d.host, host_groups.get(d.host, ()), d.key, now)), None)
        if w is None:
            active.append(d)
        else:
            d.waived = {"until": w.until.isoformat() if w.until else None, "reason": w.reason, "who": w.who, "id": w.id}
            waived.append(d)
    return active, waived
