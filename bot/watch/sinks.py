"""Where a watch's events go: JSON lines or text (CLI, console) and a Slack thread.

A sink gets the event dicts of ``bot.watch.events``; the Slack sink posts one message per
episode (updated in place when it recovers) and the summary with its PNG chart."""

from __future__ import annotations

import json
import logging
import sys
from typing import IO, Any, Protocol

from bot.watch.stats import text_table

log = logging.getLogger("whycant.watch")


class WatchSink(Protocol):
    async def started(self, ev: dict[str, Any]) -> str | None: ...  # -> thread ts, if any

    async def episode(self, ev: dict[str, Any], post_ts: str | None) -> str | None: ...  # -> the post's ts

    async def recovered(self, ev: dict[str, Any], post_ts: str | None) -> None: ...

    async def note(self, ev: dict[str, Any]) -> None: ...  # a ``partial`` event: a zone out of (or back in) the rounds

    async def summary(self, ev: dict[str, Any], png: bytes | None) -> None: ...


def partial_text(ev: dict[str, Any]) -> str:
    if ev["reason"] == "ok":
        return f"Zone {ev['zone']} takes part again: {ev['note']}"
    what = ", ".join(ev.get("vantages") or []) + (" and the target's counters" if ev.get("counters") else "")
    return f"Partial: {ev['note']} – {what or 'nothing'} not tested meanwhile (not counted as failures)"


def episode_text(ev: dict[str, Any]) -> str:
    ids = ", ".join(f"[{f['id']}]" for f in ev.get("findings") or []) or "no finding named it"
    where = ", ".join(ev.get("vantages") or []) or "counters only: " + ", ".join(ev.get("burst") or {})
    end = f" – ended {ev['end']}" if ev.get("end") else " – ongoing"
    inc = f" · incident {ev['incident']}" if ev.get("incident") else ""
    return f"Episode {ev['number']}: started {ev['start']}{end} · failing from {where} · {ids}{inc}"


class JsonLinesSink:
    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stdout

    def _write(self, ev: dict[str, Any]) -> None:
        self.out.write(json.dumps(ev, default=str) + "\n")
        self.out.flush()

    async def started(self, ev: dict[str, Any]) -> str | None:
        self._write(ev)
        return None

    async def episode(self, ev: dict[str, Any], post_ts: str | None) -> str | None:
        self._write(ev)
        return None

    async def recovered(self, ev: dict[str, Any], post_ts: str | None) -> None:
        self._write(ev)

    async def note(self, ev: dict[str, Any]) -> None:
        self._write(ev)

    async def summary(self, ev: dict[str, Any], png: bytes | None) -> None:
        self._write(ev)


class TextSink(JsonLinesSink):
    """Plain lines for a terminal; the summary as a table."""

    def _line(self, text: str) -> None:
        self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    async def started(self, ev: dict[str, Any]) -> str | None:
        how = "joined" if ev.get("joined") else ("resumed" if ev.get("resumed") else "watching")
        self._line(
            f"watch {ev['watch']}: {how} {ev['target']} from {', '.join(ev['vantages'])} "
            f"every {ev['interval_s']:g}s until {ev['ends_at']}"
        )
        return None

    async def episode(self, ev: dict[str, Any], post_ts: str | None) -> str | None:
        self._line(episode_text(ev))
        return None

    async def recovered(self, ev: dict[str, Any], post_ts: str | None) -> None:
        self._line(
            f"Episode {ev['number']} recovered at {ev['end']} after {ev['duration_s']:g}s "
            f"({ev['failed_attempts']} failed attempts)"
        )

    async def note(self, ev: dict[str, Any]) -> None:
        self._line(partial_text(ev))

    async def summary(self, ev: dict[str, Any], png: bytes | None) -> None:
        self._line(f"watch {ev['watch']} on {ev['target']} {ev['status']}:")
        self._line(text_table(ev))


class SlackSink:
    """The watch's thread in Slack (slack_sdk ``AsyncWebClient``): one post per episode."""

    def __init__(self, client: Any, channel: str, thread_ts: str | None = None):
        self.client, self.channel, self.thread_ts = client, channel, thread_ts

    async def _post(self, text: str) -> str | None:
        try:
            resp = await self.client.chat_postMessage(channel=self.channel, text=text, thread_ts=self.thread_ts)
            return resp.get("ts")
        except Exception as e:  # noqa: BLE001 - Slack trouble never stops the watch
            log.warning("watch: posting to %s failed: %s", self.channel, e)
            return None

    async def started(self, ev: dict[str, Any]) -> str | None:
        how = "Joined the watch" if ev.get("joined") else ("Resumed watching" if ev.get("resumed") else "Watching")
        ts = await self._post(
            f"{how} {ev['target']} from {', '.join(ev['vantages'])} every {ev['interval_s']:g}s "
            f"until {ev['ends_at']} (watch {ev['watch']}; `unwatch {ev['watch']}` stops it)"
        )
        if self.thread_ts is None:
            self.thread_ts = ts
        return self.thread_ts

    async def episode(self, ev: dict[str, Any], post_ts: str | None) -> str | None:
        return await self._post(episode_text(ev))

    async def recovered(self, ev: dict[str, Any], post_ts: str | None) -> None:
        if post_ts is None:
            return
        try:
            await self.client.chat_update(channel=self.channel, ts=post_ts, text=episode_text(ev))
        except Exception as e:  # noqa: BLE001
            log.warning("watch: updating episode %s failed: %s", ev.get("number"), e)

    async def note(self, ev: dict[str, Any]) -> None:
        await self._post(partial_text(ev))

    async def summary(self, ev: dict[str, Any], png: bytes | None) -> None:
        await self._post(f"Watch {ev['watch']} on {ev['target']} {ev['status']}.\n```\n{text_table(ev)}\n```")
        if png is None:
            return
        try:
            await self.client.files_upload_v2(
                channel=self.channel,
                thread_ts=self.thread_ts,
                content=png,
                filename=f"watch-{ev['watch']}.png",
                title=f"Failures per minute, {ev['target']}",
            )
        except Exception as e:  # noqa: BLE001
            log.warning("watch: chart upload failed: %s", e)
