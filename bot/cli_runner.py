"""`whycant runner --zone Z` (a zone's probe runner) and `whycant runners` (who is alive) — docs/zones.md."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Annotated

import typer

from bot.cli_common import ConfigOpt, JsonOpt
from probes.errors import BadInput


def runner(
    zone: Annotated[str, typer.Option("--zone", help="The zone whose jobs this runner takes (e.g. office).")],
    config: ConfigOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Runner name (default zone@host:pid).")] = None,
) -> None:
    """Run probes for one network zone: take its jobs from the shared PostgreSQL until SIGTERM/SIGINT."""
    from bot.config import load_config
    from bot.zones.plan import require_postgres

    cfg = load_config(config)
    require_postgres(cfg, [zone])
    cfg.zones.own = zone
    logging.getLogger("whycant").setLevel(logging.INFO)
    asyncio.run(_run(cfg, zone, name))


async def _run(cfg, zone: str, name: str | None) -> None:
    from bot.zone_runner import ZoneRunner

    r = ZoneRunner(cfg, zone, name)
    try:
        await r.check_schema()
    except BadInput:
        await r.transports.close()
        raise
    except Exception as e:  # noqa: BLE001 - an unreachable database at start is a usage error, not a crash
        await r.transports.close()
        raise BadInput(
            f"runner: cannot reach the database: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await r.serve(stop)


def runners(config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """List zones, their runners, last heartbeat and jobs in flight."""
    from bot.config import load_config
    from bot.inventory import Inventory
    from bot.zones.plan import require_postgres, zones_in_config

    cfg = load_config(config)
    zones = zones_in_config(cfg, Inventory.from_config(cfg).zones if cfg.inventory else ())
    require_postgres(cfg, zones or {"(any)"})
    doc = asyncio.run(_runners(cfg, zones))
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    for z in doc["zones"]:
        queued = ", ".join(f"{n} {s}" for s, n in sorted(z["jobs"].items())) or "no jobs queued"
        live = sum(1 for r in z["runners"] if r["live"])
        typer.echo(f"zone {z['zone']}: {live} live runner(s) of {len(z['runners'])} seen; {queued}")
        for r in z["runners"]:
            typer.echo(
                f"  {r['name']:<40} last heartbeat {r['age_s']:.0f} s ago  in flight {r['in_flight']}"
                f"  done {r['done']}{'' if r['live'] else '  (stale)'}"
            )
        if not any(r["live"] for r in z["runners"]):
            typer.echo(f"  no runner for zone {z['zone']} seen in the last {cfg.zones.runner_stale_seconds:.0f} s")


async def _runners(cfg, zones: set[str]) -> dict:
    from bot.zones import queue

    app = queue.make_app(cfg.database, application_name="whycant-runners")
    try:
        async with app.open_async():
            rows = await queue.all_runners(app)
            jobs = await queue.queued_jobs(app)
    except Exception as e:  # noqa: BLE001 - name the database trouble, no traceback
        raise BadInput(
            f"cannot read the zone tables: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            " (run `whycant db upgrade`?)"
        ) from None
    names = sorted(zones | {r["zone"] for r in rows} | set(jobs))
    stale = cfg.zones.runner_stale_seconds
    out = []
    for z in names:
        rs = [
            {
                "name": r["name"],
                "host": r["host"],
                "pid": r["pid"],
                "last_heartbeat": r["last_seen"],
                "age_s": float(r["age"]),
                "live": float(r["age"]) <= stale,
                "in_flight": r["in_flight"],
                "done": r["done"],
            }
            for r in rows
            if r["zone"] == z
        ]
        out.append({"zone": z, "runners": rs, "jobs": jobs.get(z, {})})
    return {"zones": out, "stale_after_s": stale}
