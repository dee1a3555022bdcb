"""The ask pipeline: one diagnosis from a request to a stored incident (docs/architecture.md §Data flow).

request -> plan (vantages) -> probes -> evidence -> rules -> findings -> (store) -> Outcome

``AskPipeline`` is the part of ``bot.service.Whycant`` that runs diagnoses. Concurrent asks about the same
target, port and vantages share one run (``bot/singleflight.py``): one collection, one stored incident;
the joiners are added to it as askers. Storage never holds up the answer: ``bot.storage.store.Store``
bounds its calls and spools or retries what the database could not take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot import load_metrics, metrics
from bot.config import Config
from bot.engine import diagnose
from bot.findings import Diagnosis
from bot.interrupt import received_signal
from bot.inventory import Inventory, with_bot_vantage
from bot.outcome import IncidentInfo, Outcome, Progress
from bot.singleflight import Flight, SingleFlight
from bot.storage.results import IncidentRef
from bot.storage.spool import Spool
from bot.storage.store import StorageTrouble, Store
from bot.zones.plan import zones_in_config
from probes.collect import Collector, VantagePoint
from probes.errors import BadInput
from probes.evidence import Evidence, Request

OnProgress = Callable[[Progress], Awaitable[None]] | None


@dataclass(frozen=True)
class Ask:
    """Who asks, where, and where progress goes: what every command handler gets besides its words."""

    who: str = "console"
    channel: str | None = None
    thread_ts: str | None = None
    on_progress: OnProgress = None
    groups: Sequence[str] = ()


class JoinedAsk(NamedTuple):
    """Who joined a shared run, and where to answer them."""

    who: str
    channel: str | None
    thread_ts: str | None


@dataclass
class SharedRun:
    """What every caller of one diagnosis run gets: the evidence, the findings, the leader's incident,
    and the incident as seen by the joiners ``recorded`` with it (``None`` when nobody joined)."""

    evidence: Evidence
    diagnosis: Diagnosis
    incident: IncidentInfo
    joiners: IncidentInfo | None
    recorded: list[JoinedAsk]


class AskPipeline:
    """Diagnose requests; the attributes are set up by ``bot.service.Whycant``."""

    config: Config
    inventory: Inventory
    rules: Any
    collector: Collector
    flights: SingleFlight[SharedRun]
    store: Store | None
    store_error: str | None  # why the database could not be opened (incidents are spooled)
    spool: Spool | None
    interrupted: list[int]  # incidents marked interrupted when a signal stopped us
    rule_sysctls: set[str]  # the sysctls the rules mention (read once: it scans the playbook files)

    def vantages_for(self, request: Request) -> list[VantagePoint]:
        """The asked vantages (or every configured one), with the bot itself first
        (except for a target behind a jump host: ``bot.inventory.with_bot_vantage``)."""
        known = self.inventory.vantages()
        target = self.inventory.get(request.target)
        names = with_bot_vantage(
            request.vantages or list(known),
            target,
            explicit_bot="bot" in request.vantages,
            behind_jump=self.inventory.behind_jump(target),
        )
        out: list[VantagePoint] = []
        for name in names:
            v = known.get(name) or self.inventory.resolve_vantage(name)
            out.append(VantagePoint(v.name, v.host, nat=bool(getattr(v, "nat", False)), note=v.note))
        return out

    def extra_sysctls(self, host_name: str) -> list[str]:
        """Sysctls named by the rules and by the host's groups' baselines."""
        keys = set(self.rule_sysctls)
        try:
            host = self.inventory.resolve(host_name)
            for g in host.groups:
                keys |= set(self.config.baselines.get(g, {}))
        except BadInput:
            pass
        return sorted(keys)

    async def mark_interrupted(self, reason: str | None = None) -> list[int]:
        """Mark this process's unfinished diagnoses ``interrupted`` (bounded; ``serve`` calls it on shutdown)."""
        if self.store is None:
            return []
        ids = await self.store.interrupt_runs(reason or received_signal() or "cancelled")
        self.interrupted += ids
        return ids

    async def diagnose_requests(self, requests: list[Request], **kw: Any) -> Outcome:
        """One request, or a host serving several: host-level checks once, with a hint to pick a service."""
        if len(requests) > 1:
            first = requests[0]
            services = ", ".join(f"{r.service} ({r.port})" for r in requests)
            req = first.model_copy(update={"port": None, "service": None})
            out = await self.diagnose(req, **kw)
            out.text = (
                f"{first.target} serves {services}: host-level checks only. "
                f"Ask e.g. `{first.target}:{requests[0].service}` to test connections."
            )
            return out
        return await self.diagnose(requests[0], **kw)

    async def diagnose(
        self,
        request: Request,
        *,
        text: str = "",
        who: str = "console",
        channel: str | None = None,
        thread_ts: str | None = None,
        on_progress: OnProgress = None,
    ) -> Outcome:
        """Diagnose one request. Concurrent asks about the same target, port and vantages share one run
        (bot/singleflight.py): one collection, one stored incident; joiners are added to it as askers."""
        request = request.model_copy(update={"text": text or request.text, "who": who})
        target = self.inventory.resolve(request.target)
        vantages = self.vantages_for(request) if request.port else []
        if request.port:
            request = request.model_copy(update={"vantages": [v.name for v in vantages]})
        key = (target.name, request.address, request.port, tuple(v.name for v in vantages))
        running = self.flights.running(key)
        if running is not None and who in running.askers:
            load_metrics.ALREADY_RUNNING.inc()
            where = f"{target.name}:{request.port}" if request.port else target.name
            return Outcome(
                kind="text",
                ephemeral=True,
                data={"already_running": True},
                text=f"I'm already diagnosing {where} for you (asked {time.monotonic() - running.started:.0f} s "
                "ago); the answer comes in that thread.",
            )

        async def progress(stage: str, message: str, kw: dict[str, Any]) -> None:
            if on_progress is not None:
                await on_progress(
                    Progress(
                        stage=stage,
                        message=message,
                        **{k: v for k, v in kw.items() if k in ("vantage", "done", "total")},
                    )
                )

        async def work(flight: Flight[SharedRun]) -> SharedRun:
            return await self._run_diagnosis(request, target, vantages, who, channel, thread_ts, flight)

        ask = JoinedAsk(who, channel, thread_ts)
        shared, joined = await self.flights.run(key, work, on_progress=progress, who=who, meta=ask)
        incident = shared.incident
        if joined:
            load_metrics.SHARED_RUNS.inc()
            recorded = any(a is ask for a in shared.recorded)
            incident = shared.joiners if recorded and shared.joiners else await self._join_incident(incident, [ask])
        return Outcome(
            kind="diagnosis",
            request=shared.evidence.request or request,
            evidence=shared.evidence,
            diagnosis=shared.diagnosis,
            incident=incident,
        )

    async def _run_diagnosis(
        self,
        request: Request,
        target: Any,
        vantages: list[VantagePoint],
        who: str,
        channel: str | None,
        thread_ts: str | None,
        flight: Flight[SharedRun],
    ) -> SharedRun:
        progress = flight.broadcast
        pending: IncidentRef | StorageTrouble | None = None
        at = datetime.now(UTC)
        try:
            if self.store is not None:
                pending = await self.store.start_diagnosis(
                    request=request, who=who, channel=channel, thread_ts=thread_ts
                )
            evidence = await self._collect(request, target, vantages, progress, self.extra_sysctls(target.name))
        except asyncio.CancelledError:  # stopped (signal, shutdown): the transports kill their remote commands
            await self.mark_interrupted()
            raise
        request = evidence.request or request  # a cross-zone plan may drop the bot's own vantage
        diagnosis = diagnose(evidence, self.rules)
        await progress("rules", diagnosis.verdict, {})
        incident = await self.record(request, evidence, diagnosis, who, channel, thread_ts, pending, at)
        metrics.observe(
            evidence, diagnosis, self.storage_error_of(incident), group=metrics.primary_group(target.groups)
        )
        joiners = list(flight.meta[1:])  # everyone who joined so far: one write for all of them
        info = await self._join_incident(incident, joiners) if joiners else None
        return SharedRun(evidence, diagnosis, incident, info, joiners)

    async def _join_incident(self, leader: IncidentInfo, asks: list[JoinedAsk]) -> IncidentInfo:
        """Joiners of a shared run: added to the leader's incident as askers, never a second incident."""
        if self.store is None:
            return leader.model_copy(update={"joined": True})
        return await self.store.join_run(leader, [(a.who, a.channel, a.thread_ts) for a in asks])

    async def _collect(
        self, request: Request, target: Any, vantages: list[VantagePoint], on_progress: Any, extra: list[str]
    ) -> Evidence:
        """Probe here, or across zones when the config names any (docs/zones.md)."""
        if not zones_in_config(self.config, self.inventory.zones):
            return await self.collector.collect(request, target, vantages, on_progress=on_progress, extra_sysctls=extra)
        # procrastinate (about 1 s to import here) is loaded only when zones are configured
        from bot.zones import fanout  # noqa: PLC0415

        return await fanout.collect(self, request, target, vantages, on_progress=on_progress, extra_sysctls=extra)

    def storage_error_of(self, incident: IncidentInfo) -> str | None:
        """The storage error a diagnosis counts in the metrics (none when storage is off)."""
        return incident.storage_error if self.store is not None or self.store_error else None

    async def record(
        self,
        request: Request,
        evidence: Evidence,
        diagnosis: Diagnosis,
        who: str,
        channel: str | None,
        thread_ts: str | None,
        pending: IncidentRef | StorageTrouble | None,
        at: datetime,
    ) -> IncidentInfo:
        """Store a finished diagnosis: through the store, or straight to the spool when the database was
        unavailable at start (``store_error``)."""
        if self.store is None:
            if self.store_error and self.spool is not None:  # answer now, write it when the database is back
                return self.spool.keep(
                    self.store_error,
                    pending_id=None,
                    request=request,
                    evidence=evidence,
                    diagnosis=diagnosis,
                    who=who,
                    channel=channel,
                    thread_ts=thread_ts,
                    at=at,
                )
            return IncidentInfo(id=None, storage_error="incident not stored: no database configured")
        return await self.store.record_or_retry(
            request=request,
            evidence=evidence,
            diagnosis=diagnosis,
            who=who,
            channel=channel,
            thread_ts=thread_ts,
            pending=pending,
            at=at,
        )
