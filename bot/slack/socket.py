"""Socket Mode runner with a watchdog.

slack_sdk's aiohttp Socket Mode client can go silent: the TCP connection stays
up, no envelopes, no pongs, and its own monitor does not always notice. The
watchdog here pings on its own schedule (in the SDK's ping format, so the SDK
records the pong) and forces a fresh connection (``apps.connections.open`` →
new URL) when nothing at all — no message, no pong — has arrived for
``silence_s`` seconds, or when the receive loop has died.

Several connections (``connections=N``) let Slack spread events across them;
duplicates are dropped by the app's ``claim_event`` middleware.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.slack import metrics

log = logging.getLogger("whycant.slack.socket")


class Watchdog:
    def __init__(self, handler: AsyncSocketModeHandler, *, silence_s: float = 60.0, check_s: float = 5.0):
        self.handler = handler
        self.silence_s = silence_s
        self.check_s = check_s
        self.last_message = time.time()
        self.reconnects = 0
        self._task: asyncio.Task | None = None
        handler.client.on_message_listeners.append(self._on_message)

    async def _on_message(self, _msg) -> None:
        self.last_message = time.time()

    def last_activity(self) -> float:
        pong = self.handler.client.last_ping_pong_time or 0.0
        return max(self.last_message, pong)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    async def _run(self) -> None:
        client = self.handler.client
        while not client.closed:
            await asyncio.sleep(self.check_s)
            try:
                session = client.current_session
                if session is not None and not session.closed:
                    try:
                        await session.ping(f"sdk-ping-pong:{time.time()}".encode())
                    except Exception as e:  # noqa: BLE001
                        log.info("watchdog ping failed: %s", e)
                reason = None
                receiver = client.message_receiver
                if receiver is not None and receiver.done():
                    reason = "receiver-died"
                elif time.time() - self.last_activity() > self.silence_s:
                    reason = "silent"
                if reason:
                    log.warning(
                        "socket mode connection %s for %.0fs; reconnecting", reason, time.time() - self.last_activity()
                    )
                    metrics.RECONNECTS.labels(reason).inc()
                    self.reconnects += 1
                    self.last_message = time.time()  # give the new connection a full window
                    await client.connect_to_new_endpoint(force=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watchdog must outlive any single failure
                log.exception("socket mode watchdog check failed")


class SocketRunner:
    """Start/stop N Socket Mode connections for one Bolt app, each with a watchdog."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        connections: int = 1,
        ping_interval: float = 10.0,
        silence_s: float = 60.0,
        check_s: float = 5.0,
    ):
        self.app = app
        self.app_token = app_token
        self.connections = max(1, connections)
        self.ping_interval = ping_interval
        self.silence_s = silence_s
        self.check_s = check_s
        self.handlers: list[AsyncSocketModeHandler] = []
        self.watchdogs: list[Watchdog] = []
        self.last_error: str | None = None

    async def start(self) -> None:
        for _ in range(self.connections):
            h = AsyncSocketModeHandler(self.app, self.app_token, ping_interval=self.ping_interval)
            await h.connect_async()
            w = Watchdog(h, silence_s=self.silence_s, check_s=self.check_s)
            w.start()
            self.handlers.append(h)
            self.watchdogs.append(w)
        metrics.SOCKETS.set(len(self.handlers))
        log.info("socket mode: %d connection(s) open", len(self.handlers))

    async def close(self) -> None:
        for w in self.watchdogs:
            await w.stop()
        for h in self.handlers:
            try:
                await h.close_async()
            except Exception:  # noqa: BLE001
                log.exception("closing a socket mode connection failed")
        metrics.SOCKETS.set(0)
        self.handlers.clear()
        self.watchdogs.clear()

    async def keep_starting(self, backoff: tuple[float, ...] = (1, 2, 5, 10, 30)) -> None:
        """``start()``, retried with backoff while Slack is unreachable; cancel it to give up."""
        attempt = 0
        while True:
            try:
                await self.start()
                self.last_error = None
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure to connect is retried
                self.last_error = f"{type(e).__name__}: {e}"[:300]
                await self.close()
                delay = backoff[min(attempt, len(backoff) - 1)]
                attempt += 1
                log.warning("socket mode: cannot connect (%s); retrying in %.0fs", self.last_error, delay)
                await asyncio.sleep(delay)

    def status(self) -> str | None:
        """None when every connection is open, else what is wrong (for /readyz)."""
        open_ = sum(
            1 for h in self.handlers if h.client.current_session is not None and not h.client.current_session.closed
        )
        if self.handlers and open_ == len(self.handlers):
            return None
        if self.last_error:
            return f"socket mode not connected: {self.last_error}"
        if not self.handlers:
            return "socket mode connecting"
        return f"socket mode: {open_} of {len(self.handlers)} connection(s) open"

    @property
    def reconnects(self) -> int:
        return sum(w.reconnects for w in self.watchdogs)
