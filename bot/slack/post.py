"""Paced posting for scheduled reports: about one message per second per channel.

Slack allows roughly one message per second per channel (bursts tolerated);
reports with a summary and a long thread must not trip that. A ``ChannelPacer``
serialises posts per channel and spaces them; different channels do not wait
for each other. 429s past the pacing are retried by the client's retry handlers.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.drift import render
from bot.drift.schedule import PostReport, entry_timezone
from bot.slack.client import call

MAX_BLOCKS = 50


class ChannelPacer:
    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    async def post(self, client: AsyncWebClient, channel: str, **kwargs: Any) -> Any | None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last.get(channel, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await call("chat.postMessage", client.chat_postMessage(channel=channel, **kwargs))
            finally:
                self._last[channel] = time.monotonic()


DEFAULT_PACER = ChannelPacer()


def _chunks(blocks: list[dict], size: int = MAX_BLOCKS) -> list[list[dict]]:
    return [blocks[i : i + size] for i in range(0, len(blocks), size)] or [[]]


async def post_report(
    client: AsyncWebClient,
    channel: str,
    summary_blocks: list[dict],
    thread_blocks: list[dict] | None = None,
    *,
    text: str = "whycant report",
    thread_text: str | None = None,
    pacer: ChannelPacer | None = None,
) -> str | None:
    """Post a short summary in ``channel`` and the details in its thread, paced.

    Returns the summary's ``ts``, or ``None`` when it could not be posted
    (logged: ``channel_not_found``, ``not_in_channel``…); nothing is raised.
    """
    pacer = pacer or DEFAULT_PACER
    first = await pacer.post(client, channel, text=text, blocks=summary_blocks[:MAX_BLOCKS])
    if first is None:
        return None
    ts = first.get("ts")
    if thread_blocks:
        for chunk in _chunks(thread_blocks):
            await pacer.post(client, channel, thread_ts=ts, text=thread_text or text, blocks=chunk)
    return ts


def report_poster(client: AsyncWebClient) -> PostReport:
    """The scheduler's ``post`` for Slack: the summary in the entry's channel, details in its thread."""

    async def post(entry: Any, report: dict, late: bool, scheduled_for: datetime) -> Any:
        when = scheduled_for.astimezone(entry_timezone(entry)).strftime("%Y-%m-%d %H:%M %Z")
        ts = await post_report(
            client,
            entry.channel,
            render.summary_blocks(report, name=entry.name, late=late, scheduled_for=when),
            render.thread_blocks(report),
            text=render.fallback_text(report, name=entry.name, late=late),
        )
        if ts is None:
            raise RuntimeError(f"could not post to {entry.channel}")
        return ts

    return post
