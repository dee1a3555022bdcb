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
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any, Awaitable, Callable, Protocol, Sequence

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import permissions as perms
from bot.drift.render import WAIVE_ACTION, WAIVE_DAYS, parse_waive_value
from bot.outcome import Outcome, Progress
from bot.render import escape as esc
from bot.render.blockkit import render_home, render_message, render_outcome, render_progress, section
from bot.render.message import ACTIONS, Message, Paragraph
from bot.slack import metrics
from bot.slack.files import read_shared_files
from probes.errors import BadInput

log = logging.getLogger("whycant.slack")

ACTION_RE = re.compile(r"^whycant_(%s)$" % "|".join(ACTIONS))
MENTION_RE = re.compile(r"<@[UW][A-Z0-9]+>")
INLINE_EVIDENCE_MAX = 2500  # larger evidence goes up as a file
WAIVE_REFUSAL = "you may not waive drifts (ask an admin for the `drift` permission)"
DEFAULT_API_URL = "https://slack.com/api/"


class Service(Protocol):  # the core (bot/service.py ``Whycant``), as this front end uses it
    async def handle(self, text: str, *, who: str, channel: str | None = None, thread_ts: str | None = None,
                     on_progress: Callable[[Progress], Awaitable[None]] | None = None,
                     groups: Sequence[str] = ()) -> Outcome: ...

    async def action(self, action: str, incident_id: int, *, who: str, channel: str | None = None,
                     on_progress: Callable[[Progress], Awaitable[None]] | None = None,
                     groups: Sequence[str] = ()) -> Outcome: ...

    def allowed(self, action: str, *, user: str, channel: str | None = None,
                groups: Sequence[str] = ()) -> bool: ...

    async def claim_event(self, event_id: str) -> bool: ...

    async def open_incidents(self) -> list[dict]: ...

    async def waive(self, host: str, key: str, *, who: str, days: int = 30) -> Outcome: ...


# ----------------------------------------------------------------- client
def api_url(explicit: str | None = None) -> str:
    """``SLACK_API_URL`` (docs/architecture.md §Front ends and contracts) or Slack's own, always ending in ``/``."""
    url = explicit or os.environ.get("SLACK_API_URL") or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


class _Counted:
    """Counts each retry in ``whycant_slack_api_retries_total{reason}`` before slack_sdk's own wait."""

    reason = "other"

    async def prepare_for_next_attempt_async(self, **kw: Any) -> None:
        metrics.API_RETRIES.labels(self.reason).inc()
        await super().prepare_for_next_attempt_async(**kw)  # type: ignore[misc]


class _RateLimitRetry(_Counted, AsyncRateLimitErrorRetryHandler):
    reason = "ratelimited"


class _ServerErrorRetry(_Counted, AsyncServerErrorRetryHandler):
    reason = "server_error"


class _ConnectionErrorRetry(_Counted, AsyncConnectionErrorRetryHandler):
    reason = "connection_error"


def retry_handlers(*, rate_limit_retries: int = 3, server_retries: int = 2, connection_retries: int = 2) -> list:
    """429 (honouring Retry-After), 500/503 and connection errors, via slack_sdk's handlers (each retry counted)."""
    return [
        _RateLimitRetry(max_retry_count=rate_limit_retries),
        _ServerErrorRetry(max_retry_count=server_retries),
        _ConnectionErrorRetry(max_retry_count=connection_retries),
    ]


def make_client(token: str | None = None, *, base_url: str | None = None, timeout: int = 30) -> AsyncWebClient:
    return AsyncWebClient(token=token or os.environ.get("SLACK_BOT_TOKEN"), base_url=api_url(base_url),
                          timeout=timeout, retry_handlers=retry_handlers())


async def call(method: str, coro: Awaitable[Any]) -> Any | None:
    """Run one Web API call; log and count failures instead of raising."""
    try:
        return await coro
    except SlackApiError as e:
        error = api_error(e)
        metrics.API_ERRORS.labels(method, error).inc()
        if error in ("channel_not_found", "not_in_channel", "is_archived", "user_not_found"):
            log.warning("slack %s failed: %s", method, error)
        else:
            log.error("slack %s failed: %s", method, error)
    except (SlackClientError, asyncio.TimeoutError, OSError, ValueError) as e:  # ValueError: a body that is not JSON
        metrics.API_ERRORS.labels(method, type(e).__name__).inc()
        log.error("slack %s failed: %s: %s", method, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    return None


def api_error(e: SlackApiError) -> str:
    """Slack's ``error`` code, or ``http_500`` when the body was not a JSON object (HTML page, empty, truncated)."""
    resp = e.response
    data = getattr(resp, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(resp, "status_code", None)
    return f"http_{status}" if status else "unknown"


# ----------------------------------------------------------------- progress
class ProgressMessage:
    """The in-thread progress message: posted on the first event, updated (throttled), replaced by the reply.

    Calling it never waits for Slack (issue 11: progress updates never delay the probes): the newest event is
    kept and a background task posts it; events that arrive while Slack is slow are coalesced into the next
    update. ``settle()`` (before the reply replaces the message) waits for that task, bounded."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str | None, *, min_interval: float = 1.0,
                 enabled: bool = True):
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
            r = await call("chat.postMessage", self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, **payload))
            if r is None:
                self.failed = True  # e.g. channel_not_found: stop trying, the reply will log again
                return
            self.ts = r.get("ts")
            self._last = now
        elif now - self._last >= self.min_interval or progress.stage == "done":
            self._last = now
            await call("chat.update", self.client.chat_update(channel=self.channel, ts=self.ts, **payload))


# ----------------------------------------------------------------- the front end
class SlackFrontEnd:
    def __init__(self, service: Service, config: Any = None, *, progress_interval: float = 1.0,
                 group_cache_s: float = 300.0):
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

    # -- helpers
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

    async def permitted(self, client: AsyncWebClient, permission: str | None, user: str,
                        channel: str | None) -> bool:
        if permission is None:
            return True
        groups = await self.groups_of(client, user)
        ok = self.service.allowed(permission, user=user, channel=channel, groups=groups)
        if not ok:
            metrics.REFUSALS.labels(permission).inc()
        return ok

    async def refuse(self, client: AsyncWebClient, permission: str | None, user: str, channel: str | None,
                     thread_ts: str | None, *, text: str | None = None) -> None:
        text = text or perms.refusal(permission)
        msg = Message(head=[Paragraph("🚫 " + text)], fallback=text)
        payload = render_message(msg)
        if channel and not channel.startswith("D"):
            r = await call("chat.postEphemeral", client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, **payload))
            if r is not None:
                return
        await call("chat.postMessage", client.chat_postMessage(channel=channel or user, **payload))

    async def deliver(self, client: AsyncWebClient, outcome: Outcome, *, channel: str, user: str,
                      thread_ts: str | None, progress: ProgressMessage | None = None) -> None:
        payload = render_outcome(outcome)
        if progress is not None:
            await progress.settle()
        if outcome.ephemeral and not channel.startswith("D"):
            if await call("chat.postEphemeral", client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread_ts, **payload)) is not None:
                return
        if progress is not None and progress.ts:
            if await call("chat.update", client.chat_update(channel=channel, ts=progress.ts, **payload)) is not None:
                return
        await call("chat.postMessage", client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload))

    # -- conversations
    async def with_files(self, client: AsyncWebClient, text: str, files: list[dict]) -> str:
        """`analyze` (or nothing) + attached text files: the files' text as the paste."""
        if not files or (text.strip() and perms.command_of(text) != "analyze"):
            return text
        pasted = await read_shared_files(files, token=client.token, api_url=client.base_url)
        return f"{text.strip() or 'analyze'}\n```\n{pasted}\n```"

    async def converse(self, client: AsyncWebClient, text: str, *, user: str, channel: str,
                       thread_ts: str | None, react_ts: str | None = None, files: list[dict] | None = None) -> None:
        started = time.monotonic()
        if files:
            try:
                text = await self.with_files(client, text, files)
            except BadInput as e:
                await self.deliver(client, Outcome(kind="error", text=str(e)), channel=channel, user=user,
                                   thread_ts=thread_ts)
                return
        command = perms.command_of(text)
        permission = perms.required_permission(command)
        if not await self.permitted(client, permission, user, channel):
            await self.refuse(client, permission, user, channel, thread_ts)
            return
        if react_ts and command in ("diagnose", "analyze"):  # in the background: a slow Slack never delays the probes
            self.spawn(call("reactions.add", client.reactions_add(channel=channel, timestamp=react_ts, name="eyes")))
        progress = ProgressMessage(client, channel, thread_ts, min_interval=self.progress_interval,
                                   enabled=self.progress_updates)
        try:
            outcome = await self.service.handle(text, who=user, channel=channel, thread_ts=thread_ts,
                                                on_progress=progress, groups=await self.groups_of(client, user))
        except Exception as e:  # noqa: BLE001
            log.exception("service.handle failed")
            outcome = Outcome(kind="error", text=f"internal error: {type(e).__name__}")
        await self.deliver(client, outcome, channel=channel, user=user, thread_ts=thread_ts, progress=progress)
        metrics.REPLY_SECONDS.observe(time.monotonic() - started)

    async def on_mention(self, event: dict, client: AsyncWebClient) -> None:
        metrics.EVENTS.labels("app_mention").inc()
        text = MENTION_RE.sub("", event.get("text") or "").strip()
        ts = event.get("ts")
        self.spawn(self.converse(client, text, user=event.get("user", ""), channel=event["channel"],
                                 thread_ts=event.get("thread_ts") or ts, react_ts=ts, files=event.get("files")))

    async def on_message(self, event: dict, client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share") \
                or event.get("bot_id"):
            return
        metrics.EVENTS.labels("message.im").inc()
        text = MENTION_RE.sub("", event.get("text") or "").strip()
        ts = event.get("ts")
        self.spawn(self.converse(client, text, user=event.get("user", ""), channel=event["channel"],
                                 thread_ts=event.get("thread_ts") or ts, react_ts=ts, files=event.get("files")))

    async def on_command(self, ack: Callable, command: dict, client: AsyncWebClient, respond: Callable) -> None:
        await ack()
        metrics.EVENTS.labels("slash_command").inc()
        self.spawn(self._command(command, client, respond))

    async def _command(self, command: dict, client: AsyncWebClient, respond: Callable) -> None:
        text = (command.get("text") or "").strip()
        user, channel = command.get("user_id", ""), command.get("channel_id", "")
        permission = perms.required_permission(perms.command_of(text))
        if not await self.permitted(client, permission, user, channel):
            await call("response_url", respond(text="🚫 " + esc.mrkdwn(perms.refusal(permission)),
                                               response_type="ephemeral"))
            return
        root = await call("chat.postMessage", client.chat_postMessage(
            channel=channel,
            text=f"{esc.mention(user)} asked: `{esc.inline_code((command.get('command') or '/whycant') + ' ' + text)}`"))
        if root is not None:  # answer in the thread of the echoed command
            await self.converse(client, text, user=user, channel=channel, thread_ts=root.get("ts"))
            return
        # the bot cannot post there (not a member, DM with someone else): answer via response_url
        outcome = await self.service.handle(text, who=user, channel=channel,
                                            groups=await self.groups_of(client, user))
        payload = render_outcome(outcome)
        await call("response_url", respond(response_type="ephemeral" if outcome.ephemeral else "in_channel",
                                           **payload))

    # -- buttons
    async def on_action(self, ack: Callable, body: dict, client: AsyncWebClient) -> None:
        await ack()
        metrics.EVENTS.labels("block_actions").inc()
        self.spawn(self._action(body, client))

    async def _action(self, body: dict, client: AsyncWebClient) -> None:
        act = (body.get("actions") or [{}])[0]
        m = ACTION_RE.match(act.get("action_id", ""))
        if not m:
            return
        action = m.group(1)
        user = (body.get("user") or {}).get("id", "")
        container = body.get("container") or {}
        from_home = container.get("type") == "view"
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
        try:
            incident_id = int(act.get("value", ""))
        except ValueError:
            log.warning("button %s with a bad incident id %r", action, act.get("value"))
            return
        permission = perms.required_permission(action)
        if not await self.permitted(client, permission, user, channel):
            await self.refuse(client, permission, user, None if from_home else channel, thread_ts)
            return
        reply_channel = channel if channel and not from_home else user  # Home: answer in the app DM
        reply_thread = thread_ts if not from_home else None
        progress = None
        if action in ("rerun", "verify"):
            progress = ProgressMessage(client, reply_channel, reply_thread, min_interval=self.progress_interval,
                                       enabled=self.progress_updates)
        try:
            outcome = await self.service.action(action, incident_id, who=user, channel=channel,
                                                on_progress=progress, groups=await self.groups_of(client, user))
        except Exception as e:  # noqa: BLE001
            log.exception("service.action failed")
            outcome = Outcome(kind="error", text=f"internal error: {type(e).__name__}")
        if action == "evidence" and outcome.evidence is not None:
            await self.upload_evidence(client, outcome, incident_id, channel=reply_channel, thread_ts=reply_thread)
        else:
            await self.deliver(client, outcome, channel=reply_channel, user=user, thread_ts=reply_thread,
                               progress=progress)
        if from_home:
            await self.publish_home(client, user)

    # -- the drift report's "Waive 30 days" button
    async def on_waive(self, ack: Callable, body: dict, client: AsyncWebClient) -> None:
        await ack()
        metrics.EVENTS.labels("block_actions").inc()
        self.spawn(self._waive(body, client))

    async def _waive(self, body: dict, client: AsyncWebClient) -> None:
        act = (body.get("actions") or [{}])[0]
        if act.get("action_id") != WAIVE_ACTION:
            return
        user = (body.get("user") or {}).get("id", "")
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
        reply_channel = channel or user
        if not await self.permitted(client, "waive", user, channel):
            await self.refuse(client, "drift", user, channel, thread_ts, text=WAIVE_REFUSAL)
            return
        target = parse_waive_value(str(act.get("value") or ""))
        if target is None:  # never from our own reports: the value is validated when rendered
            log.warning("waive button with a bad value %r", str(act.get("value"))[:200])
            outcome = Outcome(kind="error", ephemeral=True, text="this Waive button carries no valid host and key")
        elif getattr(self.service, "waive", None) is None:
            outcome = Outcome(kind="error", ephemeral=True, text="this bot cannot record waivers")
        else:
            try:
                outcome = await self.service.waive(target[0], target[1], who=user, days=WAIVE_DAYS)
            except Exception as e:  # noqa: BLE001
                log.exception("service.waive failed")
                outcome = Outcome(kind="error", ephemeral=True, text=f"internal error: {type(e).__name__}")
        outcome.ephemeral = True  # only the clicker hears about it; the next report shows it to everyone
        await self.deliver(client, outcome, channel=reply_channel, user=user, thread_ts=thread_ts)
        waiver = outcome.data.get("waiver") if outcome.kind != "error" else None
        if waiver and channel and message.get("ts") and message.get("blocks"):
            await self._mark_waived(client, channel, message, act.get("block_id"), waiver)

    async def _mark_waived(self, client: AsyncWebClient, channel: str, message: dict, block_id: str | None,
                           waiver: dict) -> None:
        """Replace the clicked button with "waived until … by …" in the report's thread message."""
        blocks = [dict(b) for b in message.get("blocks") or []]
        note = (f"\n✅ waived until {esc.mrkdwn(str(waiver.get('until', ''))[:10])} by "
                f"{esc.mention(waiver.get('who'))}")
        changed = False
        for b in blocks:
            acc = b.get("accessory") or {}
            if b.get("block_id") == block_id and acc.get("action_id") == WAIVE_ACTION:
                b.pop("accessory", None)
                text = dict(b.get("text") or {"type": "mrkdwn", "text": ""})
                text["text"] = esc.truncate(text.get("text", ""), 3000 - len(note)) + note
                b["text"] = text
                changed = True
        if changed:
            await call("chat.update", client.chat_update(channel=channel, ts=message["ts"], blocks=blocks,
                                                         text=message.get("text") or "drift report"))

    async def upload_evidence(self, client: AsyncWebClient, outcome: Outcome, incident_id: int, *,
                              channel: str, thread_ts: str | None) -> None:
        assert outcome.evidence is not None
        data = outcome.evidence.model_dump_json(indent=2)
        if len(data) <= INLINE_EVIDENCE_MAX:
            payload: dict[str, Any] = {"text": f"Evidence for incident #{incident_id}",
                       "blocks": [section(f"*Evidence for incident #{incident_id}*\n```{esc.code(data)}```")]}
            await call("chat.postMessage", client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload))
            return
        await call("files.upload_v2", client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, content=data.encode(),
            filename=f"whycant-incident-{incident_id}-evidence.json", title=f"Evidence, incident #{incident_id}",
            initial_comment=f"Full evidence for incident #{incident_id} ({len(data):,} bytes)"))

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


def build_app(service: Service, config: Any = None, *, token: str | None = None, signing_secret: str | None = None,
              base_url: str | None = None, client: AsyncWebClient | None = None, socket_mode: bool = False,
              progress_interval: float = 1.0, command: str = "/whycant") -> AsyncApp:
    """The Bolt app. ``socket_mode`` skips request signing (the socket is authenticated instead)."""
    client = client or make_client(token, base_url=base_url)
    secret = signing_secret if signing_secret is not None else os.environ.get("SLACK_SIGNING_SECRET", "")
    # Bolt's app ``name`` is also a logger name: on every request Bolt resets the level of
    # ``logging.getLogger(name)`` to its base logger's. Named "whycant", that silenced every
    # INFO log of the bot (the "whycant" logger) after the first event; use the base logger's own name.
    bolt_logger = logging.getLogger("whycant.slack.bolt")
    app = AsyncApp(client=client, signing_secret=secret, request_verification_enabled=not socket_mode,
                   name=bolt_logger.name, logger=bolt_logger)
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
