"""The Slack buttons: the five incident buttons (``whycant_<action>``, from replies and the App Home) and the
drift report's "Waive 30 days"; evidence goes up inline or as a file."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import permissions as perms
from bot.drift.render import WAIVE_ACTION, WAIVE_DAYS, parse_waive_value
from bot.outcome import Outcome
from bot.render import escape as esc
from bot.render.blockkit import section
from bot.render.message import ACTIONS
from bot.slack import metrics
from bot.slack.client import call
from bot.slack.frontend import SlackBase
from bot.slack.progress import ProgressMessage

log = logging.getLogger("whycant.slack")

ACTION_RE = re.compile(r"^whycant_(%s)$" % "|".join(ACTIONS))
INLINE_EVIDENCE_MAX = 2500  # larger evidence goes up as a file
WAIVE_REFUSAL = "you may not waive drifts (ask an admin for the `drift` permission)"


@dataclass(frozen=True)
class Click:
    """Where a button was clicked, read from a ``block_actions`` payload (message or App Home)."""

    action: dict[str, Any]  # the first action: action_id, value, block_id
    user: str
    channel: str | None
    message: dict[str, Any]
    thread_ts: str | None
    from_home: bool

    @classmethod
    def of(cls, body: dict) -> Click:
        container = body.get("container") or {}
        message = body.get("message") or {}
        return cls(
            action=(body.get("actions") or [{}])[0],
            user=(body.get("user") or {}).get("id", ""),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            message=message,
            thread_ts=message.get("thread_ts") or message.get("ts") or container.get("message_ts"),
            from_home=container.get("type") == "view",
        )

    @property
    def reply_channel(self) -> str:
        """Where the answer goes: the clicked message's channel; the clicker's app DM from the App Home."""
        return self.channel if self.channel and not self.from_home else self.user

    @property
    def reply_thread(self) -> str | None:
        return None if self.from_home else self.thread_ts


class ButtonHandlers(SlackBase):
    """The button listeners (``SlackFrontEnd`` registers them on the Bolt app)."""

    async def on_action(self, ack: Callable, body: dict, client: AsyncWebClient) -> None:
        await ack()
        metrics.EVENTS.labels("block_actions").inc()
        self.spawn(self._action(body, client))

    async def _action(self, body: dict, client: AsyncWebClient) -> None:
        c = Click.of(body)
        act, user = c.action, c.user
        m = ACTION_RE.match(act.get("action_id", ""))
        if not m:
            return
        action = m.group(1)
        try:
            incident_id = int(act.get("value", ""))
        except ValueError:
            log.warning("button %s with a bad incident id %r", action, act.get("value"))
            return
        permission = perms.required_permission(action)
        if not await self.permitted(client, permission, user, c.channel):
            await self.refuse(client, permission, user, None if c.from_home else c.channel, c.thread_ts)
            return
        reply_channel, reply_thread = c.reply_channel, c.reply_thread
        progress = None
        if action in ("rerun", "verify"):
            progress = ProgressMessage(
                client, reply_channel, reply_thread, min_interval=self.progress_interval, enabled=self.progress_updates
            )
        try:
            outcome = await self.service.action(
                action,
                incident_id,
                who=user,
                channel=c.channel,
                on_progress=progress,
                groups=await self.groups_of(client, user),
            )
        except Exception as e:  # noqa: BLE001
            log.exception("service.action failed")
            outcome = Outcome(kind="error", text=f"internal error: {type(e).__name__}")
        if action == "evidence" and outcome.evidence is not None:
            await self.upload_evidence(client, outcome, incident_id, channel=reply_channel, thread_ts=reply_thread)
        else:
            await self.deliver(
                client, outcome, channel=reply_channel, user=user, thread_ts=reply_thread, progress=progress
            )
        if c.from_home:
            await self.publish_home(client, user)

    # -- the drift report's "Waive 30 days" button
    async def on_waive(self, ack: Callable, body: dict, client: AsyncWebClient) -> None:
        await ack()
        metrics.EVENTS.labels("block_actions").inc()
        self.spawn(self._waive(body, client))

    async def _waive(self, body: dict, client: AsyncWebClient) -> None:
        c = Click.of(body)
        act, user, channel, message = c.action, c.user, c.channel, c.message
        if act.get("action_id") != WAIVE_ACTION:
            return
        if not await self.permitted(client, "waive", user, channel):
            await self.refuse(client, "drift", user, channel, c.thread_ts, text=WAIVE_REFUSAL)
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
        await self.deliver(client, outcome, channel=c.reply_channel, user=user, thread_ts=c.reply_thread)
        waiver = outcome.data.get("waiver") if outcome.kind != "error" else None
        if waiver and channel and message.get("ts") and message.get("blocks"):
            await self._mark_waived(client, channel, message, act.get("block_id"), waiver)

    async def _mark_waived(
        self, client: AsyncWebClient, channel: str, message: dict, block_id: str | None, waiver: dict
    ) -> None:
        """Replace the clicked button with "waived until … by …" in the report's thread message."""
        blocks = [dict(b) for b in message.get("blocks") or []]
        note = f"\n✅ waived until {esc.mrkdwn(str(waiver.get('until', ''))[:10])} by {esc.mention(waiver.get('who'))}"
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
            await call(
                "chat.update",
                client.chat_update(
                    channel=channel, ts=message["ts"], blocks=blocks, text=message.get("text") or "drift report"
                ),
            )

    async def upload_evidence(
        self, client: AsyncWebClient, outcome: Outcome, incident_id: int, *, channel: str, thread_ts: str | None
    ) -> None:
        assert outcome.evidence is not None
        data = outcome.evidence.model_dump_json(indent=2)
        if len(data) <= INLINE_EVIDENCE_MAX:
            payload: dict[str, Any] = {
                "text": f"Evidence for incident #{incident_id}",
                "blocks": [section(f"*Evidence for incident #{incident_id}*\n```{esc.code(data)}```")],
            }
            await call("chat.postMessage", client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload))
            return
        await call(
            "files.upload_v2",
            client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=data.encode(),
                filename=f"whycant-incident-{incident_id}-evidence.json",
                title=f"Evidence, incident #{incident_id}",
                initial_comment=f"Full evidence for incident #{incident_id} ({len(data):,} bytes)",
            ),
        )
