"""`whycant serve [--http PORT] [--config F]`: the Slack bot.

Socket Mode by default (``SLACK_BOT_TOKEN`` + ``SLACK_APP_TOKEN``); HTTP mode
with ``--http PORT`` (``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``; events,
slash commands and interactivity at ``POST /slack/events``, ``/healthz`` and
``/metrics`` beside it). ``SLACK_API_URL`` replaces the Web API base URL.
In Socket Mode, ``--metrics-port`` serves ``/healthz`` and ``/metrics``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated, Optional

import typer

from bot.cli_common import ConfigOpt
from probes.errors import BadInput

log = logging.getLogger("whycant.serve")


def _need(*names: str) -> None:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise BadInput(f"serve: set {' and '.join(missing)} in the environment")


async def run(config, *, http_port: int | None, host: str, metrics_port: int | None, connections: int) -> None:
    from bot.service import Whycant  # the core; imported late so `--help` stays fast
    from bot.slack.app import build_app
    from bot.slack.http import start_http
    from bot.slack.socket import SocketRunner
    from bot.storage.resilient import flush_until

    service = await Whycant.create(config)
    app = build_app(service, config, socket_mode=http_port is None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    web_runner = socket_runner = None
    from bot.drift.schedule import start_scheduler

    # Scheduled drift reports (config `reports:`); every replica runs this, a database row claims each run.
    scheduler = start_scheduler(service, app.client, stop)
    spool_writer = asyncio.create_task(flush_until(service, stop), name="whycant-spool-writer")  # docs/failures.md
    try:
        if http_port is not None:
            web_runner, _ = await start_http(app, http_port, host)
        else:
            socket_runner = SocketRunner(app, os.environ["SLACK_APP_TOKEN"], connections=connections)
            await socket_runner.start()
            if metrics_port is not None:
                web_runner, _ = await start_http(None, metrics_port, host)
        await stop.wait()
        log.info("shutting down")
    finally:
        stop.set()
        if scheduler is not None:
            try:
                await asyncio.wait_for(scheduler, timeout=30)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                scheduler.cancel()
        spool_writer.cancel()
        if socket_runner is not None:
            await socket_runner.close()
        await app.whycant.drain(10)  # type: ignore[attr-defined]
        await app.whycant.cancel()  # type: ignore[attr-defined]  # what is still running: interrupted
        if web_runner is not None:
            await web_runner.cleanup()
        await service.close()


def serve(
    config: ConfigOpt = None,
    http: Annotated[Optional[int], typer.Option("--http", help="HTTP mode on this port (default: Socket Mode).")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (HTTP mode, metrics).")] = "0.0.0.0",
    metrics_port: Annotated[Optional[int], typer.Option("--metrics-port",
                                                        help="Socket Mode: serve /healthz and /metrics here.")] = None,
    connections: Annotated[int, typer.Option("--connections", min=1, max=10,
                                             help="Socket Mode connections to open.")] = 1,
) -> None:
    """Run the Slack bot (Socket Mode, or HTTP mode with --http PORT)."""
    from bot.config import load_config

    cfg = load_config(config)
    _need("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET" if http is not None else "SLACK_APP_TOKEN")
    logging.getLogger("whycant").setLevel(logging.INFO)
    asyncio.run(run(cfg, http_port=http, host=host, metrics_port=metrics_port, connections=connections))
