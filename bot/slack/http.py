"""HTTP mode: an aiohttp server with the Bolt app at POST /slack/events.

Events, slash commands and interactivity all arrive at ``POST /slack/events``
(docs/architecture.md §Front ends and contracts). Bolt verifies the signature and the 5-minute replay
window (401 otherwise). ``GET /healthz`` and ``GET /metrics`` (Prometheus)
sit beside it; in Socket Mode the same server runs without the events route.
"""
from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger("whycant.slack.http")

EVENTS_PATH = "/slack/events"


def build_web_app(bolt_app: AsyncApp | None, *, registry: CollectorRegistry = REGISTRY) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        bolt_req = await to_bolt_request(request)
        bolt_resp = await bolt_app.async_dispatch(bolt_req)  # type: ignore[union-attr]
        return await to_aiohttp_response(bolt_resp)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    if bolt_app is not None:
        app.router.add_post(EVENTS_PATH, events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_http(bolt_app: AsyncApp | None, port: int, host: str = "0.0.0.0") -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (``await runner.cleanup()`` to stop) and the bound port."""
    runner = web.AppRunner(build_web_app(bolt_app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    log.info("listening on http://%s:%d (%s, /healthz, /metrics)", host, bound,
             EVENTS_PATH if bolt_app is not None else "no events route")
    return runner, bound
