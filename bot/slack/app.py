"""The Slack front end: a slack_bolt ``AsyncApp`` wired to the core service.

``build_app(service, config)`` registers listeners for ``app_mention``,
``message.im``, ``/whycant``, the five incident buttons and the drift
report's "Waive 30 days" button (``block_actions``) and ``app_home_opened``.
It acks at once, reacts 👀, posts a progress message in the thread and
updates it as progress events arrive, then replaces it with the final
Block Kit reply. Permissions are checked on every command and button
(ephemeral "you may not …"); Events API retries are dropped by
``service.claim_event(event_id)``; Slack API failures (``channel_not_found``,
429s past the retries, 5xx) are logged and counted, never raised.

The parts: ``frontend.py`` (tasks, permissions, delivery, App Home), ``buttons.py`` (incident and
waive buttons), ``files.py`` (attached files as a paste), ``progress.py``, ``client.py`` (Web API calls).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import permissions as perms
from bot.outcome import Outcome
from bot.render import escape as esc
from bot.render.blockkit import render_outcome
from bot.slack import metrics
from bot.slack.buttons import ACTION_RE, ButtonHandlers
from bot.slack.client import call, make_client
from bot.slack.files import paste_with_files
from bot.slack.frontend import Service
from bot.slack.progress import ProgressMessage
from probes.errors import BadInput

log = logging.getLogger("whycant.slack")

MENTION_RE = re.compile(r"<@[UW][A-Z0-9]+>")


class SlackFrontEnd(ButtonHandlers):
    """The listeners: mentions, DMs and the slash command (a conversation with the core service), the
    buttons (``ButtonHandlers``), the App Home, and dropping Slack's redeliveries (``dedup``)."""

    # -- conversations
    async def converse(
        self,
        client: AsyncWebClient,
        text: str,
        *,
        user: str,
        channel: str,
        thread_ts: str | None,
        react_ts: str | None = None,
        files: list[dict] | None = None,
    ) -> None:
        started = time.monotonic()
        if files:
            try:
                text = await paste_with_files(text, files, token=client.token, api_url=client.base_url)
            except BadInput as e:
                await self.deliver(
                    client, Outcome(kind="error", text=str(e)), channel=channel, user=user, thread_ts=thread_ts
                )
                return
        command = perms.command_of(text)
        permission = perms.required_permission(command)
        if not await self.permitted(client, permission, user, channel):
            await self.refuse(client, permission, user, channel, thread_ts)
            return
        if react_ts and command in ("diagnose", "analyze"):  # in the background: a slow Slack never delays the probes
            self.spawn(call("reactions.add", client.reactions_add(channel=channel, timestamp=react_ts, name="eyes")))
        progress = ProgressMessage(
            client, channel, thread_ts, min_interval=self.progress_interval, enabled=self.progress_updates
        )
        try:
            outcome = await self.service.handle(
                text,
                who=user,
                channel=channel,
                thread_ts=thread_ts,
                on_progress=progress,
                groups=await self.groups_of(client, user),
            )
        except Exception as e:  # noqa: BLE001
            log.exception("service.handle failed")
            outcome = Outcome(kind="error", text=f"internal error: {type(e).__name__}")
        await self.deliver(client, outcome, channel=channel, user=user, thread_ts=thread_ts, progress=progress)
        metrics.REPLY_SECONDS.observe(time.monotonic() - started)

    async def on_mention(self, event: dict, client: AsyncWebClient) -> None:
        metrics.EVENTS.labels("app_mention").inc()
        text = MENTION_RE.sub("", event.get("text") or "").strip()
        ts = event.get("ts")
        self.spawn(
            self.converse(
                client,
                text,
                user=event.get("user", ""),
                channel=event["channel"],
                thread_ts=event.get("thread_ts") or ts,
                react_ts=ts,
                files=event.get("files"),
            )
        )

    async def on_message(self, event: dict, client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share") or event.get("bot_id"):
            return
        metrics.EVENTS.labels("message.im").inc()
        text = MENTION_RE.sub("", event.get("text") or "").strip()
        ts = event.get("ts")
        self.spawn(
            self.converse(
                client,
                text,
                user=event.get("user", ""),
                channel=event["channel"],
                thread_ts=event.get("thread_ts") or ts,
                react_ts=ts,
                files=event.get("files"),
            )
        )

    async def on_command(self, ack: Callable, command: dict, client: AsyncWebClient, respond: Callable) -> None:
        await ack()
        metrics.EVENTS.labels("slash_command").inc()
        self.spawn(self._command(command, client, respond))

    async def _command(self, command: dict, client: AsyncWebClient, respond: Callable) -> None:
        text = (command.get("text") or "").strip()
        user, channel = command.get("user_id", ""), command.get("channel_id", "")
        permission = perms.required_permission(perms.command_of(text))
        if not await self.permitted(client, permission, user, channel):
            await call(
                "response_url", respond(text="🚫 " + esc.mrkdwn(perms.refusal(permission)), response_type="ephemeral")
            )
            return
        root = await call(
            "chat.postMessage",
            client.chat_postMessage(
                channel=channel,
                text=f"{esc.mention(user)} asked: `{esc.inline_code((command.get('command') or '/whycant') + ' ' + text)}`",
            ),
        )
        if root is not None:  # answer in the thread of the echoed command
            await self.converse(client, text, user=user, channel=channel, thread_ts=root.get("ts"))
            return
        # the bot cannot post there (not a member, DM with someone else): answer via response_url
        outcome = await self.service.handle(text, who=user, channel=channel, groups=await self.groups_of(client, user))
        payload = render_outcome(outcome)
        await call("response_url", respond(response_type="ephemeral" if outcome.ephemeral else "in_channel", **payload))

    # -- Events API retries, replayed commands and buttons
    async def dedup(self, body: dict, request: Any, next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        key = replay_key(body, getattr(request, "headers", None) or {})
        if key:
            try:
                fresh = await self.service.claim_event(key)
            except Exception:  # noqa: BLE001 - fail open: better twice than never
                log.exception("claim_event failed; handling %s anyway", key)
                fresh = True
            if not fresh:
                metrics.DUPLICATES.inc()
                log.info("dropping already handled event %s", key)
                return BoltResponse(status=200, body="")
        await next()
        return None


def replay_key(body: dict, headers: dict) -> str | None:
    """What makes a Slack request "the same" (handled once; claims are kept 2 h, past Slack's 5-minute
    signature window): an event's ``event_id``; a slash command's or button's ``trigger_id`` (a redelivered
    Socket Mode envelope, a replayed signed HTTP request); else the request signature (HTTP mode)."""
    if body.get("type") == "event_callback":
        return body.get("event_id") or None
    if body.get("type") in ("url_verification", "ssl_check") or body.get("ssl_check"):
        return None
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    sig = headers.get("x-slack-signature")
    sig = sig[0] if isinstance(sig, (list, tuple)) and sig else sig
    return f"sig:{sig}" if isinstance(sig, str) and sig else None


def build_app(
    service: Service,
    config: Any = None,
    *,
    token: str | None = None,
    signing_secret: str | None = None,
    base_url: str | None = None,
    client: AsyncWebClient | None = None,
    socket_mode: bool = False,
    progress_interval: float = 1.0,
    command: str = "/whycant",
) -> AsyncApp:
    """The Bolt app. ``socket_mode`` skips request signing (the socket is authenticated instead)."""
    client = client or make_client(token, base_url=base_url)
    secret = signing_secret if signing_secret is not None else os.environ.get("SLACK_SIGNING_SECRET", "")
    # Bolt's app ``name`` is also a logger name: on every request Bolt resets the level of
    # ``logging.getLogger(name)`` to its base logger's. Named "whycant", that silenced every
    # INFO log of the bot (the "whycant" logger) after the first event; use the base logger's own name.
    bolt_logger = logging.getLogger("whycant.slack.bolt")
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not socket_mode,
        name=bolt_logger.name,
        logger=bolt_logger,
    )
    fe = SlackFrontEnd(service, config, progress_interval=progress_interval)
    app.whycant = fe  # type: ignore[attr-defined]  # tests and serve: fe.drain()
    app.use(fe.dedup)
    app.event("app_mention")(fe.on_mention)
    app.event("message")(fe.on_message)
    app.event("app_home_opened")(fe.on_home)
    app.command(command)(fe.on_command)
    app.action(ACTION_RE)(fe.on_action)
    app.action("whycant_waive")(fe.on_waive)
    return app
