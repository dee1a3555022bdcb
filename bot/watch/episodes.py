"""Episodes: a run of failing rounds, from the first failed attempt (or counter burst) to the
first clean round. Pure: ``EpisodeTracker.observe`` takes one round and says what changed, so a
fault that flaps three times makes three episodes, however many attempts failed in each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# Counters whose rise between two samples explains failed connects: a burst of any of them opens
# an episode even before an attempt of ours fails.
BURST_COUNTERS = (
    "TcpExt.ListenOverflows",
    "TcpExt.ListenDrops",
    "TcpExt.PAWSPassive",
    "TcpExt.PAWSActive",
    "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPBacklogDrop",
    "TcpExt.TCPTimeWaitOverflow",
    "TcpExt.TCPMinTTLDrop",
    "conntrack.drop",
    "conntrack.early_drop",
    "conntrack.insert_failed",
)


def counter_burst(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """The explaining counters that rose between two samples (name -> rise)."""
    out: dict[str, int] = {}
    for key in BURST_COUNTERS:
        if key in before and key in after and after[key] > before[key]:
            out[key] = after[key] - before[key]
    return out


@dataclass
class Episode:
    number: int
    start: float  # epoch seconds of the first failed round
    end: float | None = None
    vantages: list[str] = field(default_factory=list)  # vantages with a failed attempt
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome -> count over the episode
    failed_attempts: int = 0
    burst: dict[str, int] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None
    incident: int | None = None
    partial: bool = False
    post_ts: str | None = None  # the episode's message in the watch thread

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "start": self.start,
            "end": self.end,
            "vantages": list(self.vantages),
            "outcomes": dict(self.outcomes),
            "failed_attempts": self.failed_attempts,
            "burst": dict(self.burst),
            "findings": list(self.findings),
            "verdict": self.verdict,
            "incident": self.incident,
            "partial": self.partial,
            "post_ts": self.post_ts,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Episode":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Change:
    kind: str  # "started" | "recovered"
    episode: Episode


class EpisodeTracker:
    """Feeds rounds; ``current`` is the open episode, ``episodes`` all of them."""

    def __init__(self, episodes: list[Episode] | None = None):
        self.episodes: list[Episode] = list(episodes or [])
        self.current: Episode | None = next((e for e in self.episodes if e.end is None), None)

    def observe(self, at: float, outcomes: Mapping[str, str], burst: Mapping[str, int] | None = None) -> list[Change]:
        """One round: *outcomes* maps each vantage tried to its attempt's outcome."""
        failed = {v: o for v, o in outcomes.items() if o != "ok"}
        burst = dict(burst or {})
        changes: list[Change] = []
        if failed or burst:
            ep = self.current
            if ep is None:
                ep = Episode(number=len(self.episodes) + 1, start=at)
                self.episodes.append(ep)
                self.current = ep
                changes.append(Change("started", ep))
            for v, o in failed.items():
                if v not in ep.vantages:
                    ep.vantages.append(v)
                ep.outcomes[o] = ep.outcomes.get(o, 0) + 1
                ep.failed_attempts += 1
            for k, n in burst.items():
                ep.burst[k] = ep.burst.get(k, 0) + n
        elif outcomes and self.current is not None:
            self.current.end = at
            changes.append(Change("recovered", self.current))
            self.current = None
        return changes
