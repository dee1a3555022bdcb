"""`whycant watch TEXT [--for DURATION] [--every SECONDS] [--json]`: watch in the foreground until
the end or Ctrl-C, then print the summary (docs/watch.md)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated, Any, Optional

import typer

from bot.cli_common import ConfigOpt, JsonOpt, whoami
from bot.watch.manager import manager_for
from bot.watch.sinks import JsonLinesSink, TextSink
from bot.watch.spec import check_duration, check_interval, parse_duration
from probes.errors import BadInput


def watch(
    text: Annotated[list[str], typer.Argument(help='What to watch, e.g. "db01:5432 from office".')],
    duration: Annotated[Optional[str], typer.Option("--for", help="How long (30s, 10m, 4h; default 1h).")] = None,
    every: Annotated[Optional[float], typer.Option("--every", help="Seconds between attempts (default 10).")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Watch a target:port from its vantages; capture full evidence when it fails."""
    from bot.config import load_config

    cfg = load_config(config)
    question = " ".join(text).strip()
    if not question:
        raise BadInput('watch needs a target, e.g. whycant watch "db01:5432 from office"')
    if duration is not None:
        question += f" for {check_duration(parse_duration(duration, what='--for')):g}s"
    if every is not None:
        question += f" every {check_interval(every):g}s"
    rc = asyncio.run(_watch(cfg, question, JsonLinesSink() if json_out else TextSink()))
    raise typer.Exit(rc)


async def _watch(cfg: Any, question: str, sink: Any) -> int:
    from bot.service import Whycant

    svc = await Whycant.create(cfg)
    try:
        mgr = manager_for(svc, lambda _rec: sink)
        rec, joined, run = await mgr.watch(
            question, who=whoami(), default_interval=cfg.watch.interval_seconds, on_stop="stopped"
        )
        if run is None:  # another process runs it: say so, nothing to wait for here
            print(
                f"watch {rec.id} on {rec.host}:{rec.port} is already running (owner {rec.owner}); you joined it",
                file=sys.stderr,
            )
            return 0
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, run.stop.set)
        await run.task
        return 0
    finally:
        await svc.close()
