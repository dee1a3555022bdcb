"""Drift sweeps across zones: one job per zone and chunk of hosts, assembled once every chunk is in
or its deadline passed (late or unanswered chunks are named in the report's notes and errors)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import Config
from bot.drift.collect import FleetCollector, HostResult
from bot.zones.plan import chunk_by_zone, require_postgres, zones_in_config
from probes.evidence import HostEvidence
from probes.inventory import Host

KeysFn = Callable[[Host], Sequence[str]]


def result_to_json(r: HostResult) -> dict:
    return {
        "host": r.host.name,
        "evidence": r.evidence.model_dump(mode="json"),
        "persisted": None if r.persisted is None else {k: list(v) for k, v in r.persisted.items()},
        "error": r.error,
        "error_kind": r.error_kind,
        "duration_s": r.duration_s,
        "problems": r.problems,
    }


def result_from_json(host: Host, d: dict) -> HostResult:
    persisted = d.get("persisted")
    return HostResult(
        host=host,
        evidence=HostEvidence.model_validate(d["evidence"]),
        persisted=None if persisted is None else {k: (v[0], v[1]) for k, v in persisted.items()},
        error=d.get("error"),
        error_kind=d.get("error_kind"),
        duration_s=float(d.get("duration_s", 0)),
        problems=list(d.get("problems") or []),
    )


def failed(host: Host, message: str, kind: str) -> HostResult:
    return HostResult(
        host=host, evidence=HostEvidence(host=host.name, address=host.address), error=message, error_kind=kind
    )


async def collect_fleet(
    svc: Any, local: FleetCollector, hosts: Sequence[Host], keys: KeysFn
) -> tuple[list[HostResult], list[str]]:
    """Drift inputs for *hosts*: in-process without zones; else own-zone hosts here, the rest by zone runners.

    Returns the results (in *hosts* order) and notes naming zones without runners and late chunks."""
    config: Config = svc.config
    if not zones_in_config(config, svc.inventory.zones):
        return await local.collect(hosts, keys), []
    chunks = chunk_by_zone(hosts, config, config.zones.sweep_chunk)
    remote = sorted({z for z, _ in chunks if z != config.zones.own})
    if not remote:
        return await local.collect(hosts, keys), []
    require_postgres(config, remote)
    from bot.zones.fanout import (  # noqa: PLC0415 - procrastinate: ~1 s to import, only with zones
        client_for,
        no_runner_text,
    )

    client = client_for(svc)
    live = await client.live_zones()
    deadline = time.time() + config.zones.job_timeout
    notes: list[str] = []
    by_name: dict[str, HostResult] = {}
    jobs: dict[str, tuple[str, int, list[Host]]] = {}
    counts: dict[str, int] = {}
    for zone, hs in chunks:
        counts[zone] = counts.get(zone, 0) + 1
        if zone == config.zones.own:
            continue
        if zone not in live:
            for h in hs:
                by_name[h.name] = failed(h, no_runner_text(zone, config.zones.runner_stale_seconds), "no-runner")
            continue
        payload = {"hosts": [h.name for h in hs], "keys": {h.name: list(keys(h)) for h in hs}}
        key = await client.submit(zone, "drift", payload, deadline)
        jobs[key] = (zone, counts[zone], hs)
    for zone in remote:
        if zone not in live:
            notes.append(no_runner_text(zone, config.zones.runner_stale_seconds))
    own = [h for z, hs in chunks if z == config.zones.own for h in hs]
    local_results, answers = await asyncio.gather(local.collect(own, keys), client.wait(list(jobs), deadline))
    by_name.update({r.host.name: r for r in local_results})
    for key, (zone, n, hs) in jobs.items():
        ans = answers.get(key)
        label = f"zone {zone} chunk {n}/{counts[zone]}"
        if ans is None or ans["status"] != "ok":
            why = (
                f"{label}: no answer within {config.zones.job_timeout:.0f} s (late)"
                if ans is None
                else f"{label}: {ans['payload'].get('error', ans['status'])}"
            )
            notes.append(why)
            for h in hs:
                by_name[h.name] = failed(h, why, "late" if ans is None else ans["status"])
            continue
        got = {d["host"]: d for d in ans["payload"]}
        for h in hs:
            d = got.get(h.name)
            by_name[h.name] = result_from_json(h, d) if d else failed(h, f"{label}: the runner skipped it", "zone")
    return [by_name[h.name] for h in hosts], notes
