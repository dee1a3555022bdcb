"""Chat text -> ``WatchSpec``: ``watch db01:5432 from office for 4h every 10s``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from probes.errors import BadInput

_UNIT = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_CLAUSE = re.compile(r"\b(for|every)\s+((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+)", re.I)

MIN_INTERVAL, MAX_INTERVAL = 1.0, 3600.0
MAX_DURATION = 7 * 86400.0
DEFAULT_DURATION = 3600.0


def parse_duration(text: str, *, what: str = "duration") -> float:
    """``4h``, ``90s``, ``1h30m``, ``2 hours`` -> seconds; a bare number is seconds."""
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    total, pos = 0.0, 0
    for m in _PART.finditer(s):
        if s[pos : m.start()].strip() or m.group(2) not in _UNIT:
            raise BadInput(f"{what} {text!r}: use e.g. 30s, 10m, 4h, 1h30m")
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos == 0 or s[pos:].strip():
        raise BadInput(f"{what} {text!r}: use e.g. 30s, 10m, 4h, 1h30m")
    return total


def check_interval(seconds: float) -> float:
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise BadInput(f"watch interval {seconds:g}s: it must be between {MIN_INTERVAL:g}s and {MAX_INTERVAL:g}s")
    return float(seconds)


def check_duration(seconds: float) -> float:
    if not 1 <= seconds <= MAX_DURATION:
        raise BadInput(f"watch duration {seconds:g}s: it must be between 1s and {MAX_DURATION / 86400:g} days")
    return float(seconds)


@dataclass(frozen=True)
class WatchText:
    """The target part of the text (for the request grammar) and the optional for/every clauses."""

    question: str
    duration_s: float | None = None
    interval_s: float | None = None


def split_watch_text(text: str) -> WatchText:
    """Take ``for DURATION`` and ``every DURATION`` out of *text*; a leading ``watch`` is dropped."""
    words = text.strip()
    words = re.sub(r"^\s*watch\b", "", words, flags=re.I).strip()
    duration = interval = None
    for m in list(_CLAUSE.finditer(words)):
        value = parse_duration(m.group(2), what="every" if m.group(1).lower() == "every" else "for")
        if m.group(1).lower() == "for":
            duration = check_duration(value)
        else:
            interval = check_interval(value)
    question = _CLAUSE.sub(" ", words).strip()
    if not question:
        raise BadInput("watch what? e.g. `watch db01:5432 from office for 4h`")
    return WatchText(question, duration, interval)
