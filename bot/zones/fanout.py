"""One diagnosis across zones: local probes here, the rest as jobs for each zone's runners, one Evidence.

A zone with no runner seen in the last ``zones.runner_stale_seconds`` gets no job: what it would have
probed is recorded as a probe error naming the zone, so the reply is partial and says why, and the rest
of the diagnosis stands. The same happens to a zone whose answer does not arrive in ``zones.job_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import procrastinate

from bot.config import Config
from bot.zones import queue
from bot.zones.plan import (
    ZonePlan,
    host_zone,
    plan_diagnosis,
    require_postgres,
    usable_vantages,
)
from probes.collect import VantagePoint
from probes.evidence import ConnectResult, Evidence, HostEvidence, ProbeRecord, Request
from probes.inventory import Host

log = logging.getLogger("whycant.zones")

POLL_INTERVAL = 0.2  # seconds between looks at the result table while waiting (bounded by the deadline)


class ZoneClient:
    """The bot's side of the queue: which zones have runners, defer jobs, wait for their answers."""

    def __init__(self, config: Config):
        self.config = config
        self._app: procrastinate.App | None = None

    async def app(self) -> procrastinate.App:
        if self._app is None:
            app = queue.make_app(self.config.database, application_name="whycant-bot")
            await app.open_async()
            self._app = app
        return self._app

    async def close(self) -> None:
        if self._app is not None:
            await self._app.close_async()
            self._app = None

    async def live_zones(self) -> dict[str, list[dict]]:
        return await queue.live_runners(await self.app(), self.config.zones.runner_stale_seconds)

    async def submit(self, zone: str, kind: str, payload: dict, deadline: float) -> str:
        return await queue.defer(await self.app(), zone, kind, payload, deadline)

    async def wait(self, keys: Sequence[str], deadline: float, *, poll: float = POLL_INTERVAL) -> dict[str, dict]:
        """Answers for *keys* as they arrive, until all are in or *deadline* (epoch) passes."""
        app = await self.app()
        got: dict[str, dict] = {}
        while True:
            missing = [k for k in keys if k not in got]
            if missing:
                got.update(await queue.get_results(app, missing))
            if len(got) == len(keys) or time.time() >= deadline:
                return got
            await asyncio.sleep(min(poll, max(deadline - time.time(), 0.0)))


def client_for(svc: Any) -> ZoneClient:
    """The service's zone client, opened on first use (``Whycant.close`` closes it)."""
    if getattr(svc, "zone_client", None) is None:
        svc.zone_client = ZoneClient(svc.config)
    return svc.zone_client


def no_runner_text(zone: str, stale: float) -> str:
    return f"no runner for zone {zone} seen in the last {stale:.0f} s"


def _failed_target(target: Host, message: str, kind: str) -> HostEvidence:
    return HostEvidence(
        host=target.name,
        address=target.address,
        probes=[
            ProbeRecord(
                host=target.name,
                probe="zone-job",
                command=f"zone job for {target.name}",
                error=message,
                error_kind=kind,
            )
        ],
    )


def _failed_connect(v: VantagePoint, request: Request, message: str, kind: str) -> ConnectResult:
    return ConnectResult(
        vantage=v.name,
        vantage_host=v.host.name,
        target_address=request.address,
        port=request.port or 0,
        nat=v.nat,
        note=v.note,
        error=message,
        error_kind=kind,
    )


async def collect_across_zones(
    svc: Any,
    client: ZoneClient,
    plan: ZonePlan,
    request: Request,
    target: Host,
    vantages: Sequence[VantagePoint],
    *,
    on_progress: Any = None,
    extra_sysctls: Sequence[str] = (),
) -> Evidence:
    """Evidence for one diagnosis whose target or vantages lie in other zones."""
    config: Config = svc.config
    require_postgres(config, plan.remote_zones)
    started, t0 = time.time(), time.monotonic()
    by_name = {v.name: v for v in vantages}
    live = await client.live_zones()
    stale = config.zones.runner_stale_seconds
    deadline = time.time() + config.zones.job_timeout

    async def progress(message: str) -> None:
        if on_progress is not None:
            await on_progress("zones", message, {})

    jobs: dict[str, tuple[str, str]] = {}  # key -> (zone, kind)
    unreached: dict[str, str] = {}  # zone -> why
    for zone in plan.remote_zones:
        if zone not in live:
            unreached[zone] = no_runner_text(zone, stale)
            continue
        if zone == plan.target_zone and target.probe_ssh and not target.adhoc:
            payload = {
                "request": request.model_dump(mode="json"),
                "target": target.name,
                "vantages": plan.vantages.get(zone, []),
                "extra_sysctls": list(extra_sysctls),
                "self_vantage": True,
            }
            jobs[await client.submit(zone, "collect", payload, deadline)] = (zone, "collect")
        elif request.port and plan.vantages.get(zone):
            payload = {"vantages": plan.vantages[zone], "address": request.address, "port": request.port}
            jobs[await client.submit(zone, "connect", payload, deadline)] = (zone, "connect")
    if jobs:
        await progress(f"asked the runners of zone {', '.join(sorted({z for z, _ in jobs.values()}))}")
    for why in unreached.values():
        await progress(why)

    # local part: the target when it is ours, and our own vantages' connect tests
    local_vs = [by_name[n] for n in plan.vantages.get(plan.own, [])]
    if plan.target_zone == plan.own:
        local = svc.collector.collect(request, target, local_vs, on_progress=on_progress, extra_sysctls=extra_sysctls)
    else:
        local = _connect_only(svc, request, target, local_vs, started)
    evidence, answers = await asyncio.gather(local, client.wait(list(jobs), deadline))

    connect: dict[str, ConnectResult] = {c.vantage: c for c in evidence.connect}
    for key, (zone, kind) in jobs.items():
        ans = answers.get(key)
        if ans is None or ans["status"] != "ok":
            why = (
                f"zone {zone}: no answer from its runners within {config.zones.job_timeout:.0f} s"
                if ans is None
                else f"zone {zone}: {ans['payload'].get('error', ans['status'])}"
            )
            unreached[zone] = why
            continue
        if kind == "collect":
            remote = Evidence.model_validate(ans["payload"])
            evidence.target = remote.target
            for c in remote.connect:
                connect[c.vantage] = c
        else:
            for raw in ans["payload"]:
                c = ConnectResult.model_validate(raw)
                connect[c.vantage] = c
    for zone, why in unreached.items():
        kind = "no-runner" if why.startswith("no runner") else "zone"
        if zone == plan.target_zone and target.probe_ssh and not target.adhoc:
            evidence.target = _failed_target(target, why, kind)
        for n in plan.vantages.get(zone, []) if request.port else []:
            connect[n] = _failed_connect(by_name[n], request, why, kind)
    order = [v.name for v in vantages] + ["self"]
    evidence.connect = sorted(connect.values(), key=lambda c: order.index(c.vantage) if c.vantage in order else 99)
    evidence.started_at = started
    evidence.duration_s = round(time.monotonic() - t0, 3)
    return evidence


async def _connect_only(
    svc: Any, request: Request, target: Host, vantages: Sequence[VantagePoint], started: float
) -> Evidence:
    results = (
        await asyncio.gather(*(svc.collector.connect_from(v, request.address, request.port or 0) for v in vantages))
        if request.port
        else []
    )
    return Evidence(source="live", request=request, target=None, connect=list(results), started_at=started)


async def collect(
    svc: Any,
    request: Request,
    target: Host,
    vantages: Sequence[VantagePoint],
    *,
    on_progress: Any = None,
    extra_sysctls: Sequence[str] = (),
) -> Evidence:
    """``Collector.collect`` for a config with zones: in-process when every part is in the own zone.

    The bot's implicit own vantage is left out for a target in another zone (it cannot reach it by design)."""
    config: Config = svc.config
    if host_zone(target, config) != config.zones.own:
        vantages = usable_vantages(target, vantages, config)
        request = request.model_copy(update={"vantages": [v.name for v in vantages]})
    plan = plan_diagnosis(target, [(v.name, v.host) for v in vantages], config)
    if plan.local_only:
        return await svc.collector.collect(
            request, target, vantages, on_progress=on_progress, extra_sysctls=extra_sysctls
        )
    return await collect_across_zones(
        svc, client_for(svc), plan, request, target, vantages, on_progress=on_progress, extra_sysctls=extra_sysctls
    )
