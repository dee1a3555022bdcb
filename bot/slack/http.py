"""HTTP mode: an aiohttp server with the Bolt app at POST /slack/events.

Events, slash commands and interactivity all arrive at ``POST /slack/events``
(docs/architecture.md §Front ends and contracts). Bolt verifies the signature and the 5-minute replay
window (401 otherwise). ``GET /healthz`` (liveness), ``GET /readyz``
(``bot.health.Readiness``), ``GET /metrics`` (Prometheus) and ``POST /alertmanager``
(``bot.slack.alerts``) sit beside it; in Socket Mode the same server runs without the events route.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import metrics as core_metrics
from bot.health import Readiness

log = logging.getLogger("whycant.slack.http")

EVENTS_PATH = "/slack/events"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_web_app(
    bolt_app: AsyncApp | None,
    *,
    registry: CollectorRegistry = REGISTRY,
    readiness: Readiness | None = None,
    alerts: Handler | None = None,
    store: Any = None,
) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        bolt_req = await to_bolt_request(request)
        bolt_resp = await bolt_app.async_dispatch(bolt_req)  # type: ignore[union-attr]
        return await to_aiohttp_response(bolt_resp)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        ready, checks = await (readiness or Readiness()).check()
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def metrics(_request: web.Request) -> web.Response:
        if store is not None:  # read at scrape time; a slow database keeps the last value
            try:
                core_metrics.OPEN_INCIDENTS.set(await asyncio.wait_for(store.count_open(), 1.0))
            except Exception as e:  # noqa: BLE001
                log.info("open incidents not counted: %s", type(e).__name__)
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    if bolt_app is not None:
        app.router.add_post(EVENTS_PATH, events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if alerts is not None:
        app.router.add_post("/alertmanager", alerts)
    return app


async def start_http(
    bolt_app: AsyncApp | None, port: int, host: str = "127.0.0.1", **routes: Any
) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (``await runner.cleanup()`` to stop) and the bound port.
    *routes*: ``readiness``, ``alerts``, ``store`` (see ``build_web_app``)."""
    runner = web.AppRunner(build_web_app(bolt_app, **routes), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    log.info(
        "listening on http://%s:%d (%s, /healthz, /readyz, /metrics, /alertmanager)",
        host,
        bound,
        EVENTS_PATH if bolt_app is not None else "no events route",
    )
    return runner, bound
