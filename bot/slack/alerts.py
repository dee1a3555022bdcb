"""``POST /alertmanager``: Alertmanager's webhook starts diagnoses, posted to Slack (docs/alerting.md).

Auth as Alertmanager's ``webhook_config.http_config`` sends it: ``Authorization: Bearer``
(``WHYCANT_ALERTMANAGER_TOKEN``) or basic auth (``alertmanager.username`` +
``WHYCANT_ALERTMANAGER_PASSWORD``); each secret also from ``*_FILE`` or the config's
``bearer_token_file`` / ``password_file``. With no secret set the route refuses everything.

The request is answered at once (a JSON summary); diagnoses run after it, at most
``alertmanager.max_concurrent`` at a time. A firing alert is claimed by fingerprint and start
time (in the database when there is one, so replicas and Alertmanager's repeats do not run
it twice); a target whose diagnosis is running or whose alert thread is open within the join
window gets the new alerts noted in that thread (the diagnosis joins the open incident); a
resolved alert is noted in its thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.alertmanager import Alert, AlertError, Item, Notification, Target, parse_notification, plan
from bot.config import Config
from bot.outcome import Outcome
from bot.render.blockkit import render_message
from bot.render.message import Message, Paragraph
from bot.secrets import ALERTMANAGER_PASSWORD, ALERTMANAGER_TOKEN, env_or_file, read_secret_file
from bot.slack.app import SlackFrontEnd
from bot.slack.client import call
from bot.slack.progress import ProgressMessage
from probes.evidence import Request

log = logging.getLogger("whycant.alerts")

PATH = "/alertmanager"
WHO = "alertmanager"
MEMORY = 2000  # fingerprints and threads remembered (LRU)
CLAIM_TTL = timedelta(hours=12)  # a firing is diagnosed once per this long, however often Alertmanager repeats it


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    username: str = "alertmanager"
    password: str | None = None

    @classmethod
    def load(cls, config: Config) -> Credentials:
        """From the environment (``NAME`` / ``NAME_FILE``), else the config's secret files."""
        am = config.alertmanager
        token = env_or_file(ALERTMANAGER_TOKEN)
        if token is None and am.bearer_token_file:
            token = read_secret_file(am.bearer_token_file, "alertmanager.bearer_token_file")
        password = env_or_file(ALERTMANAGER_PASSWORD)
        if password is None and am.password_file:
            password = read_secret_file(am.password_file, "alertmanager.password_file")
        return cls(token=token, username=am.username, password=password)

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.password)

    def check(self, header: str | None) -> str | None:
        """None when *header* (``Authorization``) is accepted, else why not."""
        if not self.enabled:
            return "alert intake is off: set WHYCANT_ALERTMANAGER_TOKEN or WHYCANT_ALERTMANAGER_PASSWORD"
        if not header:
            return "missing Authorization header"
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token:
            return None if hmac.compare_digest(value.encode(), self.token.encode()) else "bad bearer token"
        if scheme.lower() == "basic" and self.password:
            try:
                user, _, pw = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "malformed basic credentials"
            ok = hmac.compare_digest(user.encode(), self.username.encode()) & hmac.compare_digest(
                pw.encode(), self.password.encode()
            )
            return None if ok else "bad username or password"
        return f"unsupported Authorization scheme {scheme[:16]!r}"


@dataclass
class Thread:
    channel: str
    ts: str | None
    incident_id: int | None
    at: float


class _LRU(OrderedDict):
    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MEMORY:
            self.popitem(last=False)


def _names(alerts: list[Alert]) -> str:
    return ", ".join(sorted({a.name for a in alerts}))


def _paragraph(text: str) -> dict:
    return render_message(Message(head=[Paragraph(text)], fallback=text))


class AlertIntake:
    """The webhook handler and the diagnoses it starts."""

    def __init__(
        self, service: Any, frontend: SlackFrontEnd, client: AsyncWebClient, config: Config, credentials: Credentials
    ):
        self.service, self.fe, self.client, self.config = service, frontend, client, config
        self.credentials = credentials
        self.sem = asyncio.Semaphore(config.alertmanager.max_concurrent)
        self.threads: _LRU = _LRU()  # Target -> Thread
        self.by_fingerprint: _LRU = _LRU()  # fingerprint -> Thread
        self.seen: _LRU = _LRU()  # claim ids handled by this process
        self.running: dict[Target, list[Alert]] = {}

    # -- the HTTP side
    async def handle(self, request: web.Request) -> web.Response:
        why = self.credentials.check(request.headers.get("Authorization"))
        if why is not None:
            metrics.ALERT_NOTIFICATIONS.labels("unauthorized").inc()
            log.warning("alertmanager webhook refused: %s", why)
            return web.json_response(
                {"error": why},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="whycant", Basic realm="whycant"'},
            )
        try:
            n = parse_notification(json.loads(await request.read() or b"null"))
        except (ValueError, AlertError) as e:
            metrics.ALERT_NOTIFICATIONS.labels("bad_request").inc()
            msg = str(e) if isinstance(e, AlertError) else f"body is not JSON: {e}"
            return web.json_response({"error": msg}, status=400)
        metrics.ALERT_NOTIFICATIONS.labels("accepted").inc()
        return web.json_response(await self.accept(n))

    async def accept(self, n: Notification) -> dict[str, Any]:
        """Sort the alerts, start what must run, and say what became of each."""
        p = plan(n, self.service.inventory, self.config)
        summary: dict[str, list] = {
            "diagnosing": [],
            "joined": [],
            "duplicate": [],
            "resolved": [],
            "refused": [],
            "skipped": [],
        }
        for alert, reason in p.refused:
            metrics.ALERTS.labels(alert.status, "refused").inc()
            log.warning("alert %s (%s) refused: %s", alert.name, alert.key(), reason)
            summary["refused"].append({"alert": alert.name, "fingerprint": alert.key(), "reason": reason})
        for alert, target in p.skipped:
            metrics.ALERTS.labels(alert.status, "skipped").inc()
            summary["skipped"].append(
                {
                    "alert": alert.name,
                    "fingerprint": alert.key(),
                    "target": target.text,
                    "reason": f"more than {self.config.alertmanager.max_targets} targets in one notification",
                }
            )
        for item in p.diagnose:
            fresh = [a for a in item.alerts if await self._claim(a.claim_id())]
            for a in item.alerts:
                if a not in fresh:
                    metrics.ALERTS.labels("firing", "duplicate").inc()
                    summary["duplicate"].append({"alert": a.name, "fingerprint": a.key()})
            if not fresh:
                continue
            item.alerts = fresh
            if item.target in self.running:  # a diagnosis of this target is under way: join it
                self.running[item.target].extend(fresh)
                metrics.ALERTS.labels("firing", "joined").inc(len(fresh))
                summary["joined"] += [{"alert": a.name, "target": item.target.text} for a in fresh]
                continue
            self.running[item.target] = list(fresh)
            metrics.ALERTS.labels("firing", "diagnosed").inc(len(fresh))
            summary["diagnosing"].append(
                {"target": item.target.text, "channel": item.channel, "alerts": [a.name for a in fresh]}
            )
            self.fe.spawn(self._diagnose(item, n.receiver))
        for alert, about, channel in p.resolved:
            if not await self._claim(alert.claim_id("resolved")):
                metrics.ALERTS.labels("resolved", "duplicate").inc()
                continue
            metrics.ALERTS.labels("resolved", "noted").inc()
            summary["resolved"].append({"alert": alert.name, "fingerprint": alert.key()})
            self.fe.spawn(self._resolved(alert, about, channel))
        return summary

    async def _claim(self, claim_id: str) -> bool:
        if claim_id in self.seen:
            return False
        self.seen.remember(claim_id, True)
        store = getattr(self.service, "store", None)
        if store is None:
            return True
        try:
            return bool(await store.claim_event(claim_id, ttl=CLAIM_TTL))
        except Exception:  # noqa: BLE001 - fail open: a diagnosis twice beats none
            log.exception("claiming %s failed; handling it anyway", claim_id)
            return True

    # -- the Slack side
    async def _open_thread(self, target: Target, channel: str | None, *, any_age: bool = False) -> Thread | None:
        """The thread of this target's open incident in *channel* (asked about within the join window, unless
        *any_age*): remembered here, else (after a restart, or posted by another replica) from the database."""
        window = float("inf") if any_age else self.config.join_window_minutes * 60
        if window <= 0:
            return None
        t = self.threads.get(target)
        if t is not None and t.ts is not None and time.monotonic() - t.at <= window:
            return t
        store = getattr(self.service, "store", None)
        if store is None or channel is None:
            return None
        try:
            rows = await asyncio.wait_for(store.list_incidents(status="open,acked", host=target.host, limit=20), 5)
        except Exception as e:  # noqa: BLE001 - without the database a new thread is started
            log.info("alert thread lookup for %s failed: %s", target.text, type(e).__name__)
            return None
        now = datetime.now(timezone.utc)
        for row in rows:
            updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=timezone.utc)
            if (
                row.port == target.port
                and row.channel == channel
                and row.thread_ts
                and (now - updated).total_seconds() <= window
            ):
                return Thread(channel=channel, ts=row.thread_ts, incident_id=row.id, at=time.monotonic())
        return None

    async def _diagnose(self, item: Item, receiver: str) -> None:
        target = item.target
        try:
            async with self.sem:
                thread = await self._open_thread(target, item.channel)
                if thread is None:
                    text = (
                        f"🔔 Alertmanager ({receiver}): {_names(item.alerts)} firing for {target.text}"
                        f"{self._summary(item.alerts)} — diagnosing"
                    )
                    root = await call(
                        "chat.postMessage", self.client.chat_postMessage(channel=item.channel, **_paragraph(text))
                    )
                    channel, ts = item.channel, root.get("ts") if root is not None else None
                else:
                    channel, ts = thread.channel, thread.ts
                    await call(
                        "chat.postMessage",
                        self.client.chat_postMessage(
                            channel=channel,
                            thread_ts=ts,
                            **_paragraph(f"🔁 firing again: {_names(item.alerts)} for {target.text} — re-diagnosing"),
                        ),
                    )
                outcome = await self._run(target, item.alerts, channel, ts)
                incident_id = outcome.incident.id if outcome.incident else None
                t = Thread(channel=channel, ts=ts, incident_id=incident_id, at=time.monotonic())
                self.threads.remember(target, t)
                for a in self.running.get(target, item.alerts):
                    self.by_fingerprint.remember(a.key(), t)
        finally:
            self.running.pop(target, None)

    @staticmethod
    def _summary(alerts: list[Alert]) -> str:
        s = next((a.annotations.get("summary") for a in alerts if a.annotations.get("summary")), None)
        return f" ({s[:200]})" if s else ""

    async def _run(self, target: Target, alerts: list[Alert], channel: str, ts: str | None) -> Outcome:
        text = f"alert {_names(alerts)}: {target.text}"
        request = Request(
            text=text, target=target.host, address=target.address, port=target.port, service=target.service
        )
        progress = ProgressMessage(
            self.client, channel, ts, min_interval=self.fe.progress_interval, enabled=self.fe.progress_updates
        )
        try:
            outcome = await self.service.diagnose(
                request, text=text, who=WHO, channel=channel, thread_ts=ts, on_progress=progress
            )
        except asyncio.CancelledError:  # shutting down: say so in the thread (bounded), then go
            note = (
                f"⏹ whycant stopped before the diagnosis of {target.text} finished; the incident is marked "
                "interrupted (`rerun ID` starts it again)"
            )
            try:
                await asyncio.wait_for(
                    call(
                        "chat.postMessage",
                        self.client.chat_postMessage(channel=channel, thread_ts=ts, **_paragraph(note)),
                    ),
                    1.5,
                )
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
            raise
        except Exception as e:  # noqa: BLE001 - report, never lose the thread
            log.exception("alert diagnosis of %s failed", target.text)
            outcome = Outcome(kind="error", text=f"diagnosis of {target.text} failed: {type(e).__name__}")
        await self.fe.deliver(self.client, outcome, channel=channel, user=WHO, thread_ts=ts, progress=progress)
        return outcome

    async def _resolved(self, alert: Alert, target: Target | None, channel: str | None) -> None:
        t = self.by_fingerprint.get(alert.key())
        if t is None and target is not None:
            t = await self._open_thread(target, channel, any_age=True)
        if t is None or t.ts is None:
            log.info("alert %s (%s) resolved; no thread of ours to note it in", alert.name, alert.key())
            return
        inc = f" (incident #{t.incident_id})" if t.incident_id else ""
        what = f" for {target.text}" if target else ""
        await call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=t.channel,
                thread_ts=t.ts,
                **_paragraph(f"✅ Alertmanager: {alert.name} resolved{what}{inc} at {alert.endsAt or 'now'}"),
            ),
        )
