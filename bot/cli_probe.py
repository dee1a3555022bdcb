"""`whycant probe HOST`: collect and print a host's evidence (for users and playbook authors)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Optional

import typer

from bot.cli_common import EXIT_PARTIAL, ConfigOpt, JsonOpt
from probes.hostport import format_hostport


def evidence_json(evidence) -> dict:
    """Evidence as JSON, with the derived deltas and window spelled out."""
    d = evidence.model_dump(mode="json")
    if evidence.target is not None:
        d["target"]["counters_delta"] = evidence.target.counters_delta
        d["target"]["window_s"] = evidence.target.window_s
    d["probe_errors"] = evidence.probe_errors()
    d["partial"] = evidence.partial
    return d


def probe(
    host: Annotated[str, typer.Argument(help="Inventory host (name, alias or address).")],
    port: Annotated[Optional[int], typer.Option("--port", "-p", help="Also run connect tests to this port.")] = None,
    window: Annotated[Optional[float], typer.Option("--window", help="Seconds between counter samples.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Collect the evidence whycant would use for HOST and print it."""
    from bot.config import load_config

    cfg = load_config(config)
    if window is not None:
        cfg.probe.window_seconds = window
    evidence = asyncio.run(_probe(cfg, host, port))
    _print(evidence, json_out)
    if evidence.partial:
        raise SystemExit(EXIT_PARTIAL)  # not typer.Exit: bot.cli.main (standalone_mode=False) drops its code


def _print(evidence, json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(evidence_json(evidence), indent=2) + "\n")
        return
    t = evidence.target
    req = evidence.request
    where = ", ".join(a for a in (req.address, req.resolved_address) if a)
    print(f"{req.target} ({where}) in {evidence.duration_s:.2f} s")
    if t is not None:
        for p in t.probes:
            status = "ok" if p.ok else f"ERROR {p.error}"
            print(f"  {p.probe:<12} {p.duration_s * 1000:7.1f} ms  {status}")
        if t.facts:
            f = t.facts
            print(f"  kernel {f.kernel_release}, {f.cpus} CPUs, {f.mem_gb or 0:.1f} GB, {f.distro or f.os}")
        moved = {k: v for k, v in sorted(t.counters_delta.items()) if v}
        print(f"  counters: {len(t.counters)} keys, {len(moved)} moved in {t.window_s or 0:.1f} s")
        for k, v in list(moved.items())[:40]:
            print(f"    {k} +{v}")
        for lst in t.listeners or []:
            print(f"  listen {format_hostport(lst.local_address, lst.port)} Recv-Q {lst.recv_q} Send-Q {lst.send_q}")
        print(f"  sysctls: {len(t.sysctls or {})} read")
    for c in evidence.connect:
        s = c.summary()
        print(f"  connect from {c.vantage}: " + ", ".join(f"{k} {s[k]}" for k in s if k not in ("vantage",)))


async def _probe(cfg, host_token: str, port: int | None):
    from bot.service import Whycant
    from probes.evidence import Request

    svc = Whycant(cfg)
    try:
        host = svc.inventory.resolve(host_token)
        req = Request(text=f"probe {host.name}", target=host.name, address=host.address, port=port)
        vantages = svc.vantages_for(req) if port else []
        return await svc.collector.collect(req, host, vantages, extra_sysctls=svc.extra_sysctls(host.name))
    finally:
        await svc.close()
