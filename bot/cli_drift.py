"""`whycant drift [HOSTS|group:NAME…] [--json] [--post CHANNEL]` and drift waivers.

Waivers ride on the same command (typer cannot mix a variadic positional with sub-commands):

    whycant drift waive HOST|group:NAME|* KEY --until 2026-01-31|30d --reason TEXT [--who NAME]
    whycant drift waivers [--json]          # list them (expired ones marked)
    whycant drift unwaive ID
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from bot.cli_common import EXIT_PARTIAL, ConfigOpt, JsonOpt, whoami
from probes.errors import BadInput

ACTIONS = ("waive", "waivers", "unwaive")


def drift(
    hosts: Annotated[
        Optional[list[str]],
        typer.Argument(help="Hosts or group:NAME (default: all). Or: waive HOST KEY / waivers / unwaive ID."),
    ] = None,
    json_out: JsonOpt = False,
    post: Annotated[Optional[str], typer.Option("--post", help="Also post the report to this Slack channel.")] = None,
    config: ConfigOpt = None,
    until: Annotated[Optional[str], typer.Option("--until", help="waive: until this date (YYYY-MM-DD) or 30d.")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="waive: why the drift is accepted.")] = None,
    who: Annotated[Optional[str], typer.Option("--who", help="waive: who accepts it (default: you).")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not store this run's snapshot.")] = False,
) -> None:
    """Sysctl drift: baseline, known-bad, outliers among peers, changes, running vs persisted."""
    from bot.config import load_config

    cfg = load_config(config)
    args = list(hosts or [])
    if args and args[0] in ACTIONS:
        _waiver_action(cfg, args[0], args[1:], until=until, reason=reason, who=who, json_out=json_out)
        return
    if until or reason:
        raise BadInput("--until/--reason go with `whycant drift waive HOST KEY`")
    report = asyncio.run(_drift(cfg, args or ["all"], post=post, record=not no_save))
    if json_out:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        from bot.drift.render import text_report

        sys.stdout.write(text_report(report) + "\n")
    if any(not e.get("probe") for e in report.get("errors", [])):
        raise SystemExit(EXIT_PARTIAL)  # a host could not be probed (named in the report)


async def _service(cfg):
    """The service without the incident store, plus a DriftStore on the configured database."""
    from bot.drift.store import DriftStore
    from bot.service import Whycant
    from bot.storage.db import Database

    svc = await Whycant.create(cfg, storage=False)
    db = Database(cfg.database)
    try:
        await db.ensure_schema(cfg.auto_upgrade_db)
    except BaseException:
        await db.dispose()
        await svc.close()
        raise
    return svc, DriftStore(db)


async def _drift(cfg, selectors: list[str], *, post: str | None, record: bool) -> dict:
    from bot.drift import run_drift

    svc, store = await _service(cfg)
    try:
        report = await run_drift(svc, selectors, record=record, store=store)
        if post:
            await _post(post, report)
        return report
    finally:
        await svc.close()
        await store.db.dispose()


async def _post(channel: str, report: dict) -> None:
    import os

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.drift import render
    from bot.slack.client import api_url
    from bot.slack.post import post_report

    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        raise BadInput("--post needs SLACK_BOT_TOKEN in the environment")
    client = AsyncWebClient(token=token, base_url=api_url())
    ts = await post_report(
        client, channel, render.summary_blocks(report), render.thread_blocks(report), text=render.fallback_text(report)
    )
    if ts is None:
        raise BadInput(f"could not post to {channel} (see the log)")


def _waiver_action(
    cfg, action: str, args: list[str], *, until: str | None, reason: str | None, who: str | None, json_out: bool
) -> None:
    asyncio.run(_waiver_async(cfg, action, args, until=until, reason=reason, who=who, json_out=json_out))


async def _waiver_async(cfg, action: str, args: list[str], *, until, reason, who, json_out) -> None:
    from bot.drift.waivers import check_waiver_target, parse_until

    if action == "waive":
        if len(args) != 2:
            raise BadInput("usage: whycant drift waive HOST KEY --until DATE --reason TEXT")
        if not until:
            raise BadInput("waive needs --until (YYYY-MM-DD, an ISO date-time or e.g. 30d)")
        if not reason or not reason.strip():
            raise BadInput("waive needs --reason")
        until_dt = parse_until(until)
    elif action == "unwaive":
        if len(args) != 1 or not args[0].isdigit():
            raise BadInput("usage: whycant drift unwaive ID (see `whycant drift waivers`)")
    elif args:
        raise BadInput("usage: whycant drift waivers [--json]")

    svc, store = await _service(cfg)
    try:
        if action == "waive":
            host = check_waiver_target(args[0], args[1], svc.inventory)
            wid = await store.add_waiver(host, args[1], until_dt, reason.strip(), who or whoami())
            out = {
                "id": wid,
                "host": host,
                "key": args[1],
                "until": until_dt.isoformat(),
                "reason": reason.strip(),
                "who": who or whoami(),
            }
            sys.stdout.write(
                json.dumps(out) + "\n"
                if json_out
                else f"waiver {wid}: {host} {args[1]} waived until {until_dt:%Y-%m-%d %H:%M} UTC\n"
            )
        elif action == "unwaive":
            if not await store.remove_waiver(int(args[0])):
                raise BadInput(f"no waiver {args[0]}")
            sys.stdout.write(f"waiver {args[0]} removed\n")
        else:
            now = datetime.now(timezone.utc)
            rows = await store.waivers()
            for r in rows:
                r["expired"] = r["until"] is not None and r["until"] <= now
            if json_out:
                sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
            else:
                for r in rows:
                    state = "expired" if r["expired"] else "active"
                    sys.stdout.write(
                        f"{r['id']}\t{r['host']}\t{r['key']}\tuntil {r['until'] or '-'}\t{state}\t"
                        f"{r['who'] or '-'}\t{r['reason']}\n"
                    )
    finally:
        await svc.close()
        await store.db.dispose()
