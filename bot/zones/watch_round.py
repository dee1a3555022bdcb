"""A watch round across zones: the connect attempts of other zones' vantages, and the counter sample of a
target in another zone, as one small ``watch`` job per zone per round.

The job's deadline is the round interval: an answer that arrives later is never read (the next round has
its own jobs). A zone with no runner seen in the last ``zones.runner_stale_seconds`` gets no job; the
watch names it instead of counting a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.zones.fanout import ZoneClient, client_for, no_runner_text
from bot.zones.plan import ZonePlan, plan_diagnosis, require_postgres
from probes.collect import VantagePoint
from probes.evidence import ConnectResult
from probes.inventory import Host

log = logging.getLogger("whycant.zones")
WATCH_POLL = 0.05  # seconds between looks for a round's answers (a round is as short as 1 s)
REMOTE_SHARE = 0.6  # a remote attempt's timeout is at most this share of the interval


@dataclass(frozen=True)
class ZoneGap:
    """Why a zone took no part in a round: ``no-runner``, ``late`` or ``refused``, and the text to show."""

    reason: str
    text: str


@dataclass
class ZoneAnswers:
    """What other zones answered in one round."""

    connect: dict[str, ConnectResult] = field(default_factory=dict)  # vantage -> its attempt
    counters: dict[str, int] | None = None  # the target's sample, when it was asked for and came in time
    gaps: dict[str, ZoneGap] = field(default_factory=dict)  # zone -> why it did not answer


def remote_timeout(interval_s: float, light_timeout: float) -> float:
    """The connect timeout a runner uses in a round of *interval_s*: its answer must beat the deadline."""
    return max(0.1, min(light_timeout, interval_s * REMOTE_SHARE))


class WatchZones:
    """The zones of one watch: which vantage (and the target) is probed where, and the remote part of a round."""

    def __init__(self, svc: Any, target: Host, vantages: Sequence[VantagePoint]):
        self.svc = svc
        self.config: Config = svc.config
        self.target = target
        self.plan: ZonePlan = plan_diagnosis(target, [(v.name, v.host) for v in vantages], self.config)
        self.zone_of = {n: z for z, names in self.plan.vantages.items() for n in names}
        require_postgres(self.config, self.plan.remote_zones)

    @property
    def own(self) -> str:
        return self.plan.own

    @property
    def remote(self) -> bool:
        """True when some part of the watch runs in another zone."""
        return not self.plan.local_only

    @property
    def target_remote(self) -> bool:
        return self.plan.target_zone != self.plan.own

    def client(self) -> ZoneClient:
        return client_for(self.svc)

    def _queue_down(self, zones: Sequence[str], e: Exception) -> dict[str, ZoneGap]:
        log.warning("watch: the zone queue is unreachable: %s", e)
        why = f"the zone queue (PostgreSQL) is unreachable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return {z: ZoneGap("no-queue", f"zone {z}: {why}"[:200]) for z in zones}

    async def missing_runners(self) -> dict[str, ZoneGap]:
        """The remote zones with no live runner now (all of them while the queue cannot be read)."""
        try:
            live = await self.client().live_zones()
        except Exception as e:  # noqa: BLE001 - the database is down: those zones take no part, the rest goes on
            return self._queue_down(self.plan.remote_zones, e)
        stale = self.config.zones.runner_stale_seconds
        return {z: ZoneGap("no-runner", no_runner_text(z, stale)) for z in self.plan.remote_zones if z not in live}

    async def round(
        self,
        vantages: Mapping[str, Sequence[str]],
        address: str,
        port: int,
        *,
        timeout: float,
        counters: bool,
        deadline: float,
    ) -> ZoneAnswers:
        """One job per zone in *vantages* (zone -> vantage names), plus the target's zone when *counters*;
        answers that arrive before *deadline* (epoch)."""
        client = self.client()
        window = max(0.0, deadline - time.time())
        out = ZoneAnswers()
        zones = {z: list(names) for z, names in vantages.items() if names}
        if counters:
            zones.setdefault(self.plan.target_zone, [])
        jobs: dict[str, str] = {}  # key -> zone
        try:
            for zone, names in zones.items():
                payload = {
                    "vantages": names,
                    "address": address,
                    "port": port,
                    "timeout": timeout,
                    "counters": self.target.name if counters and zone == self.plan.target_zone else None,
                }
                jobs[await client.submit(zone, "watch", payload, deadline)] = zone
            answers = await client.wait(list(jobs), deadline, poll=WATCH_POLL)
        except Exception as e:  # noqa: BLE001 - the database is down: those zones take no part this round
            out.gaps.update(self._queue_down(list(zones), e))
            return out
        for key, zone in jobs.items():
            ans = answers.get(key)
            if ans is None or ans["status"] == "expired":
                out.gaps[zone] = ZoneGap(
                    "late",
                    f"zone {zone}: no answer from its runners within the round "
                    f"({window:.1f} s); a late answer is dropped",
                )
                continue
            if ans["status"] != "ok":
                out.gaps[zone] = ZoneGap("refused", f"zone {zone}: {ans['payload'].get('error', ans['status'])}")
                continue
            for raw in ans["payload"].get("connect", []):
                c = ConnectResult.model_validate(raw)
                out.connect[c.vantage] = c
            if ans["payload"].get("counters") is not None and zone == self.plan.target_zone:
                out.counters = {k: int(v) for k, v in ans["payload"]["counters"].items()}
        return out
