"""The in-thread progress message of a running diagnosis (posted, updated, then replaced by the reply)."""

from __future__ import annotations

import asyncio
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.outcome import Progress
from bot.render.blockkit import render_progress
from bot.slack.client import call


class ProgressMessage:
    """The in-thread progress message: posted on the first event, updated (throttled), replaced by the reply.

    Calling it never waits for Slack (issue 11: progress updates never delay the probes): the newest event is
    kept and a background task posts it; events that arrive while Slack is slow are coalesced into the next
    update. ``settle()`` (before the reply replaces the message) waits for that task, bounded."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        *,
        min_interval: float = 1.0,
        enabled: bool = True,
    ):
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self.min_interval = min_interval
        self.enabled = enabled
        self.ts: str | None = None
        self._last = 0.0
        self._lock = asyncio.Lock()
        self.failed = False
        self._latest: Progress | None = None
        self._pump: asyncio.Task | None = None

    async def __call__(self, progress: Progress) -> None:
        if not self.enabled or self.failed:
            return
        self._latest = progress
        if self._pump is None or self._pump.done():
            self._pump = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        async with self._lock:
            while self._latest is not None and not self.failed:
                progress, self._latest = self._latest, None
                await self._send(progress)

    async def settle(self, timeout: float = 10.0) -> None:
        """Let the last progress post finish (so the reply can replace it); give up after *timeout*."""
        if self._pump is not None and not self._pump.done():
            done, _ = await asyncio.wait({self._pump}, timeout=timeout)
            if not done:
                self._pump.cancel()

    async def _send(self, progress: Progress) -> None:
        now = time.monotonic()
        payload = render_progress(progress)
        if self.ts is None:
            r = await call(
                "chat.postMessage",
                self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, **payload),
            )
            if r is None:
                self.failed = True  # e.g. channel_not_found: stop trying, the reply will log again
                return
            self.ts = r.get("ts")
            self._last = now
        elif now - self._last >= self.min_interval or progress.stage == "done":
            self._last = now
            await call("chat.update", self.client.chat_update(channel=self.channel, ts=self.ts, **payload))
