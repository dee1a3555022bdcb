"""`whycant serve [--http PORT | --port PORT] [--host ADDR] [--grace S] [--config F]`: the Slack bot.

Socket Mode by default (``SLACK_BOT_TOKEN`` + ``SLACK_APP_TOKEN``); HTTP mode with ``--http PORT``
(``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``; events, slash commands and interactivity at
``POST /slack/events``). Either way the HTTP server runs (Socket Mode: on ``--port``) with
``/healthz``, ``/readyz``, ``/metrics`` and ``POST /alertmanager``, on 127.0.0.1 unless ``--host``
says otherwise. Every secret may come from ``NAME`` or ``NAME_FILE``; ``SLACK_API_URL`` replaces
the Web API base URL. SIGTERM/SIGINT: stop taking work, finish within ``--grace`` seconds, cancel
the rest and mark it ``interrupted`` (docs/production.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import typer

from bot.cli_common import ConfigOpt
from bot.secrets import SLACK_APP_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, env_or_file
from probes.errors import BadInput

log = logging.getLogger("whycant.serve")

DEFAULT_PORT = 9185


@dataclass(frozen=True)
class Secrets:
    bot_token: str
    app_token: str | None = None
    signing_secret: str | None = None


def load_secrets(http_mode: bool) -> Secrets:
    """The Slack secrets the mode needs, from ``NAME`` or ``NAME_FILE``; BadInput naming what is missing."""
    second = SLACK_SIGNING_SECRET if http_mode else SLACK_APP_TOKEN
    values = {n: env_or_file(n) for n in (SLACK_BOT_TOKEN, second)}
    missing = [n for n, v in values.items() if not v]
    if missing:
        raise BadInput(f"serve: set {' and '.join(missing)} (or {'_FILE, '.join(missing)}_FILE) in the environment")
    return Secrets(
        bot_token=values[SLACK_BOT_TOKEN] or "",
        app_token=None if http_mode else values[second],
        signing_secret=values[second] if http_mode else None,
    )


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def handler(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s again: exiting now", sig.name)
            os._exit(128 + sig.value)
        log.info("%s: shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler, sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass


async def _bounded(coro: Any, timeout: float, what: str) -> None:
    try:
        await asyncio.wait_for(coro, max(timeout, 0.1))
    except Exception as e:  # noqa: BLE001 - shutdown goes on
        log.warning("shutdown: %s: %s", what, type(e).__name__)


async def run(
    config: Any, *, http_port: int | None, host: str, port: int, connections: int, secrets: Secrets, grace: float = 10.0
) -> None:
    from bot.drift.schedule import start_scheduler  # the core; imported late so `--help` stays fast
    from bot.health import Readiness
    from bot.service import Whycant
    from bot.shutdown import finish_or_cancel, mark_interrupted
    from bot.slack.alerts import AlertIntake, Credentials
    from bot.slack.app import build_app
    from bot.slack.http import start_http
    from bot.slack.post import report_poster
    from bot.slack.socket import SocketRunner
    from bot.storage.resilient import flush_until
    from bot.watch.manager import start_watches

    stop = asyncio.Event()
    _on_signals(stop)
    credentials = Credentials.load(config)
    creating = asyncio.ensure_future(Whycant.create(config))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({creating, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not creating.done():
        creating.cancel()
        stopping.cancel()
        return
    stopping.cancel()
    service = creating.result()
    socket_mode = http_port is None
    app = build_app(
        service, config, token=secrets.bot_token, signing_secret=secrets.signing_secret, socket_mode=socket_mode
    )
    fe = app.whycant  # type: ignore[attr-defined]
    intake = AlertIntake(service, fe, app.client, config, credentials)
    if not credentials.enabled:
        log.info("alert intake off (no WHYCANT_ALERTMANAGER_TOKEN / _PASSWORD): POST /alertmanager answers 401")
    socket_runner = SocketRunner(app, secrets.app_token or "", connections=connections) if socket_mode else None
    # Scheduled drift reports (config `reports:`); every replica runs this, a database row claims each run.
    scheduler = start_scheduler(service, report_poster(app.client), stop)
    watches = start_watches(service, app.client, config, stop)  # docs/watch.md; resumes dropped watches
    readiness = Readiness(
        store=service.store, scheduler=scheduler, slack=socket_runner.status if socket_runner is not None else None
    )
    spool_writer = asyncio.create_task(flush_until(service, stop), name="whycant-spool-writer")  # docs/failures.md
    web_runner = None
    connecting: asyncio.Task | None = None
    try:
        web_runner, _ = await start_http(
            app if not socket_mode else None,
            http_port if http_port is not None else port,
            host,
            readiness=readiness,
            alerts=intake.handle,
            store=service.store,
        )
        if socket_runner is not None:
            connecting = asyncio.ensure_future(socket_runner.keep_starting())
        await stop.wait()
    finally:
        stop.set()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        deadline = t0 + grace
        if web_runner is not None:  # take no new requests (events, alerts); those in flight go on
            for site in list(web_runner.sites):
                await _bounded(site.stop(), 1.0, "closing the listening socket")
        if connecting is not None:
            connecting.cancel()
        if socket_runner is not None:
            await _bounded(socket_runner.close(), 2.0, "closing Socket Mode")
        spool_writer.cancel()
        if scheduler is not None:
            await finish_or_cancel([scheduler], deadline - loop.time())
        if watches is not None:  # they stay active in the database: the next start or another replica resumes them
            await finish_or_cancel([watches], deadline - loop.time())
            await _bounded(service.watch_manager.shutdown(), max(deadline - loop.time(), 1.0), "stopping watches")
        cancelled = await finish_or_cancel(fe.tasks(), deadline - loop.time())
        log.info("shutdown: work finished or cancelled after %.2fs", loop.time() - t0)
        if cancelled:
            # a cancelled diagnosis marks its own incident (Whycant.mark_interrupted); this catches the rest
            late = await mark_interrupted(service.store)
            done = sorted(set(service.interrupted) - set(late))
            if done:
                log.warning("shutdown: incident(s) %s interrupted", ", ".join(f"#{i}" for i in done))
        if web_runner is not None:
            await _bounded(web_runner.cleanup(), 2.0, "stopping the HTTP server")
        await _bounded(service.close(), max(deadline - loop.time(), 1.0), "closing storage and SSH")
        log.info("stopped in %.2fs", loop.time() - t0)


def serve(
    config: ConfigOpt = None,
    http: Annotated[
        Optional[int],
        typer.Option(
            "--http",  # noqa: UP045 - typer needs Optional
            help="HTTP mode on this port (default: Socket Mode).",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address the HTTP server listens on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Socket Mode: port of /healthz, /readyz, /metrics, /alertmanager (0: any free port).",
        ),
    ] = DEFAULT_PORT,
    metrics_port: Annotated[
        Optional[int], typer.Option("--metrics-port", hidden=True, help="Old name of --port.")
    ] = None,
    connections: Annotated[
        int, typer.Option("--connections", min=1, max=10, help="Socket Mode connections to open.")
    ] = 1,
    grace: Annotated[
        float, typer.Option("--grace", min=0, max=300, help="Seconds to finish running diagnoses on SIGTERM/SIGINT.")
    ] = 10.0,
) -> None:
    """Run the Slack bot (Socket Mode, or HTTP mode with --http PORT)."""
    from bot.config import load_config

    cfg = load_config(config)
    secrets = load_secrets(http is not None)
    logging.getLogger("whycant").setLevel(logging.INFO)
    asyncio.run(
        run(
            cfg,
            http_port=http,
            host=host,
            port=metrics_port if metrics_port is not None else port,
            connections=connections,
            secrets=secrets,
            grace=grace,
        )
    )
