"""What every Slack listener shares: the core service it calls, background tasks after the ack, permission
checks (with the user's Slack user groups), refusals, delivering a reply, and the App Home view."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot import permissions as perms
from bot.outcome import Outcome, Progress
from bot.render.blockkit import render_home, render_message, render_outcome
from bot.render.message import Message, Paragraph
from bot.slack import metrics
from bot.slack.client import call
from bot.slack.progress import ProgressMessage

log = logging.getLogger("whycant.slack")


class Service(Protocol):  # the core (bot/service.py ``Whycant``), as this front end uses it
    async def handle(
        self,
        text: str,
        *,
        who: str,
        channel: str | None = None,
        thread_ts: str | None = None,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        groups: Sequence[str] = (),
    ) -> Outcome: ...

    async def action(
        self,
        action: str,
        incident_id: int,
        *,
        who: str,
        channel: str | None = None,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        groups: Sequence[str] = (),
    ) -> Outcome: ...

    def allowed(self, action: str, *, user: str, channel: str | None = None, groups: Sequence[str] = ()) -> bool: ...

    async def claim_event(self, event_id: str) -> bool: ...

    async def open_incidents(self) -> list[dict]: ...

    async def waive(self, host: str, key: str, *, who: str, days: int = 30) -> Outcome: ...


class SlackBase:
    def __init__(
        self, service: Service, config: Any = None, *, progress_interval: float = 1.0, group_cache_s: float = 300.0
    ):
        self.service = service
        self.config = config
        self.progress_interval = progress_interval
        slack_cfg = getattr(config, "slack", None)
        self.progress_updates = getattr(slack_cfg, "progress_updates", True)
        self._perm_map = getattr(config, "permissions", {}) or {}
        self._groups: dict[str, list[str]] = {}
        self._groups_at = 0.0
        self._group_cache_s = group_cache_s
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run the slow part after the ack (Socket Mode and HTTP alike)."""
        task = asyncio.ensure_future(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception:  # noqa: BLE001 - a listener must never take the process down
            log.exception("slack handler failed")

    def tasks(self) -> list[asyncio.Task]:
        """The replies and diagnoses running after their ack (graceful shutdown cancels what is left)."""
        return list(self._tasks)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for in-flight replies (graceful shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def cancel(self, timeout: float = 10.0) -> list[asyncio.Task]:
        """Shutdown, after ``drain``: cancel the replies still running (their diagnoses are marked
        ``interrupted`` and their remote commands killed, docs/failures.md) and wait for that, bounded."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        return tasks

    async def groups_of(self, client: AsyncWebClient, user: str) -> list[str]:
        if not perms.uses_groups(self._perm_map):
            return []
        if time.monotonic() - self._groups_at > self._group_cache_s:
            r = await call("usergroups.list", client.usergroups_list(include_users=True))
            if r is not None:
                members: dict[str, list[str]] = {}
                for g in r.get("usergroups") or []:
                    for u in g.get("users") or []:
                        members.setdefault(u, []).append(g["id"])
                self._groups = members
                self._groups_at = time.monotonic()
        return self._groups.get(user, [])

    async def permitted(self, client: AsyncWebClient, permission: str | None, user: str, channel: str | None) -> bool:
        if permission is None:
            return True
        groups = await self.groups_of(client, user)
        ok = self.service.allowed(permission, user=user, channel=channel, groups=groups)
        if not ok:
            metrics.REFUSALS.labels(permission).inc()
        return ok

    async def refuse(
        self,
        client: AsyncWebClient,
        permission: str | None,
        user: str,
        channel: str | None,
        thread_ts: str | None,
        *,
        text: str | None = None,
    ) -> None:
        text = text or perms.refusal(permission)
        msg = Message(head=[Paragraph("🚫 " + text)], fallback=text)
        payload = render_message(msg)
        if channel and not channel.startswith("D"):
            r = await call(
                "chat.postEphemeral",
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **payload),
            )
            if r is not None:
                return
        await call("chat.postMessage", client.chat_postMessage(channel=channel or user, **payload))

    async def deliver(
        self,
        client: AsyncWebClient,
        outcome: Outcome,
        *,
        channel: str,
        user: str,
        thread_ts: str | None,
        progress: ProgressMessage | None = None,
    ) -> None:
        payload = render_outcome(outcome)
        if progress is not None:
            await progress.settle()
        if outcome.ephemeral and not channel.startswith("D"):
            if (
                await call(
                    "chat.postEphemeral",
                    client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **payload),
                )
                is not None
            ):
                return
        if progress is not None and progress.ts:
            if await call("chat.update", client.chat_update(channel=channel, ts=progress.ts, **payload)) is not None:
                return
        await call("chat.postMessage", client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload))

    # -- App Home
    async def publish_home(self, client: AsyncWebClient, user: str) -> None:
        try:
            incidents = await self.service.open_incidents()
        except Exception:  # noqa: BLE001
            log.exception("open_incidents failed")
            incidents = []
        drift = None
        getter = getattr(self.service, "drift_summary", None)
        if getter is not None:
            try:
                drift = await getter()
            except Exception:  # noqa: BLE001
                log.exception("drift_summary failed")
        await call("views.publish", client.views_publish(user_id=user, view=render_home(incidents, drift)))

    async def on_home(self, event: dict, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        metrics.EVENTS.labels("app_home_opened").inc()
        self.spawn(self.publish_home(client, event.get("user", "")))
