"""The drift report: collect, run the lenses, apply waivers, store snapshots (docs/architecture.md §Front ends and contracts, §Drift).

``run_drift(svc, selectors) -> dict`` is what the `drift` chat command (bot/commands.py) and the CLI call;
``build_report(...)`` is the pure part (lenses + waivers over collected results).
"""

from __future__ import annotations

import logging
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from bot import metrics
from bot.drift.baseline import baseline_keys, host_vars, lens_baseline
from bot.drift.collect import DEFAULT_CONCURRENCY, FleetCollector, HostResult
from bot.drift.known_bad import lens_known_bad
from bot.drift.lenses import lens_changed, lens_outlier, lens_persisted
from bot.drift.model import Drift
from bot.drift.store import DriftStore
from bot.drift.waivers import WaiverMatch, apply_waivers, to_matches
from bot.drift.zone_sweep import collect_fleet

log = logging.getLogger("whycant.drift")


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_report(
    results: Sequence[HostResult],
    *,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    rules: Any = None,
    previous: Mapping[str, tuple[datetime | None, Mapping[str, Any]]] | None = None,
    waivers: Sequence[WaiverMatch] = (),
    now: datetime | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The ``drift --json`` document for collected *results* (pure: no I/O).

    *groups* (group -> hosts) defaults to the groups of the collected hosts themselves.
    *previous*: host -> (taken_at, values) of the host's previous snapshot.
    """
    now = now or datetime.now(timezone.utc)
    baselines = baselines or {}
    previous = previous or {}
    drifts: list[Drift] = []
    errors: list[dict[str, Any]] = []
    host_groups = {r.host.name: tuple(r.host.groups) for r in results}
    values: dict[str, dict[str, Any]] = {}
    sizes: dict[str, Any] = {}

    for r in results:
        name = r.host.name
        if not r.ok:
            errors.append({"host": name, "error": r.error, "kind": r.error_kind})
            continue
        errors.extend(
            {"host": p.get("host", name), "probe": p.get("probe"), "error": p.get("error"), "kind": p.get("kind")}
            for p in r.problems
        )
        ev = r.evidence
        sysctls = dict(ev.sysctls or {})
        values[name] = sysctls
        hv = host_vars(ev.facts, sysctls)
        if hv["mem_gb"] is not None:
            sizes[name] = (round(hv["mem_gb"]), hv["cpus"])

        known = lens_known_bad(name, sysctls, ev.facts, rules, ev.persisted_sysctls) if sysctls else []
        by_key = {d.key: d for d in known}
        base, problems = lens_baseline(name, r.host.groups, sysctls, hv, baselines) if sysctls else ([], [])
        errors.extend(problems)
        for d in base:  # a rule that explains the same key
            k = by_key.get(d.key)
            if k is not None:
                d.finding, d.severity = k.finding, k.severity
                d.fix = d.fix or k.fix
        drifts += base + known

        if name in previous and sysctls:
            prev_at, prev_vals = previous[name]
            drifts += lens_changed(name, sysctls, prev_vals, prev_at)
        if r.persisted is not None and sysctls:
            drifts += lens_persisted(name, sysctls, r.persisted)

    if groups is None:
        groups = {}
        for h, gs in host_groups.items():
            for g in gs:
                groups.setdefault(g, []).append(h)  # type: ignore[attr-defined]
    drifts += lens_outlier(values, groups, sizes)

    for d in drifts:  # link every drift of a key to the rule that explains it on that host, if any
        if d.finding is None:
            k = next((x for x in drifts if x.kind == "known-bad" and x.host == d.host and x.key == d.key), None)
            if k is not None:
                d.finding = k.finding

    active, waived = apply_waivers(sorted(drifts, key=lambda d: d.sort_key), waivers, host_groups, now)
    return {
        "hosts": len(results),
        "drifts": [d.contract() for d in active],
        "errors": errors,
        "waived": [d.contract() for d in waived],
        "taken_at": _iso(now),
    }


def _keys_for(svc: Any):
    baselines = getattr(svc.config, "baselines", {}) or {}

    def keys(host) -> list[str]:
        out = set(baseline_keys(baselines, host.groups))
        fn = getattr(svc, "extra_sysctls", None)
        if fn is not None:
            try:
                out |= set(fn(host.name))
            except Exception:  # noqa: BLE001 - a missing key list only narrows the collection
                log.warning("extra_sysctls(%s) failed", host.name, exc_info=True)
        return sorted(out)

    return keys


# per transport set (one service): what each host's last sweep read beyond the fixed files
_READ_PLANS: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def fleet_collector(svc: Any) -> FleetCollector:
    cfg = svc.config
    settings = getattr(getattr(svc, "collector", None), "s", None)
    ssh = getattr(cfg, "ssh", None)
    concurrency = getattr(ssh, "max_concurrency", DEFAULT_CONCURRENCY) if ssh else DEFAULT_CONCURRENCY
    connect_t = getattr(ssh, "connect_timeout", 5.0) if ssh else 5.0
    command_t = getattr(ssh, "command_timeout", 15.0) if ssh else 15.0
    try:
        plans = _READ_PLANS.setdefault(svc.transports, {})
    except TypeError:  # not weak-referenceable: no plans, every sweep reads as the first one
        plans = None
    return FleetCollector(
        svc.transports, settings, concurrency=concurrency, host_timeout=connect_t + 2 * command_t + 5, read_plans=plans
    )


async def run_drift(
    svc: Any,
    selectors: Sequence[str] | None = None,
    *,
    record: bool = True,
    now: datetime | None = None,
    store: Any = None,
) -> dict[str, Any]:
    """Drift over the hosts *selectors* name (``all``, ``group:NAME``, hosts): the ``drift --json`` dict.

    Unknown hosts/groups raise BadInput (from the inventory) before anything is probed. With a
    database (``svc.store``, or *store*: a DriftStore), each host's previous snapshot feeds the ``changed`` lens and (with *record*) this
    run's values are stored; waivers in force are applied.
    """
    started = time.monotonic()
    hosts = svc.inventory.select(list(selectors or ["all"]))
    store = store if store is not None else DriftStore.for_service(svc)
    previous: dict[str, tuple[datetime | None, dict[str, Any]]] = {}
    waivers: list[WaiverMatch] = []
    notes: list[str] = []
    now = now or datetime.now(timezone.utc)
    if store is not None:
        try:
            previous = await store.latest_snapshots([h.name for h in hosts])
            waivers = to_matches(await store.waivers(active_at=now))
        except Exception as e:  # noqa: BLE001 - storage trouble never loses the report
            log.warning("drift: reading snapshots/waivers failed: %s", e)
            notes.append(f"previous snapshots unavailable: {e}")
    else:
        notes.append("no database: the changed lens and waivers are off")

    results, zone_notes = await collect_fleet(svc, fleet_collector(svc), hosts, _keys_for(svc))
    notes += zone_notes  # zones without runners, late chunks (docs/zones.md)
    report = build_report(
        results,
        baselines=getattr(svc.config, "baselines", {}) or {},
        rules=getattr(svc, "rules", None),
        previous=previous,
        waivers=waivers,
        now=now,
    )
    if store is not None and record:
        snaps = {r.host.name: dict(r.evidence.sysctls) for r in results if r.ok and r.evidence.sysctls}
        try:
            await store.save_snapshots(snaps, taken_at=now)
        except Exception as e:  # noqa: BLE001
            log.warning("drift: storing snapshots failed: %s", e)
            notes.append(f"snapshots not stored: {e}")
    report["duration_s"] = round(time.monotonic() - started, 3)
    metrics.observe_drift(report)
    if notes:
        report["notes"] = notes
    return report
