"""A small fake of the core service (``bot.service.Whycant``'s interface) for the Slack tests.

It answers like the real one would, from the render fixtures: a diagnosis for
``host:port`` (emitting progress events), ``help``, ``incidents``,
``ack N``/``resolve N``, and the five button actions, keeping incidents with an
audit trail so tests can check what each button did.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Sequence

from bot import permissions
from bot.findings import Diagnosis
from bot.outcome import IncidentInfo, Outcome, Progress
from tests.render import fixtures

TARGET = re.compile(r"([A-Za-z0-9_.\-]+):(\d+)")


class FakeWhycant:
    def __init__(self, perms: dict[str, list[str]] | None = None, *, delay: float = 0.05):
        self.permissions = perms if perms is not None else {"diagnose": ["*"], "triage": ["*"], "drift": ["*"]}
        self.delay = delay
        self.handled: list[dict] = []
        self.actions: list[dict] = []
        self.claimed: set[str] = set()
        self.incidents: dict[int, dict] = {}
        self._next = 41
        self.waivers: list[dict] = []  # what ``waive`` recorded (the Waive 30 days button)
        self.has_database = True

    @property
    def diagnoses(self) -> list[dict]:
        return [h for h in self.handled if h["kind"] == "diagnosis"]

    def _open(self, host: str, port: int, who: str) -> int:
        self._next += 1
        self.incidents[self._next] = {
            "id": self._next,
            "host": host,
            "port": port,
            "status": "open",
            "askers": [who],
            "age_s": 120,
            "verdict": f"{host}:{port} refuses connections",
            "audit": [("open", who)],
        }
        return self._next

    async def _diagnose(
        self,
        host: str,
        port: int,
        who: str,
        text: str,
        incident_id: int | None,
        on_progress: Callable[[Progress], Awaitable[None]] | None,
    ) -> Outcome:
        for done in (0, 3, 10):
            if on_progress:
                await on_progress(
                    Progress(
                        stage="connect", vantage="office", done=done, total=10, message=f"office: {done}/10 connected…"
                    )
                )
            await asyncio.sleep(self.delay)
        base = (
            fixtures.hostile()
            if "hostile" in text
            else (fixtures.many_findings() if "many" in text else fixtures.one_finding())
        )
        if incident_id is None:
            incident_id = self._open(host, port, who)
        inc = self.incidents[incident_id]
        base.incident = IncidentInfo(id=incident_id, status=inc["status"], askers=len(inc["askers"]))
        base.text = f"you asked: {text}"
        return base

    async def handle(
        self,
        text: str,
        *,
        who: str,
        channel: str | None = None,
        thread_ts: str | None = None,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        groups: Sequence[str] = (),
    ) -> Outcome:
        self.groups_seen = list(groups)
        cmd = permissions.command_of(text)
        words = text.split()
        if cmd == "help":
            self.handled.append({"kind": "help", "text": text, "who": who, "channel": channel})
            return Outcome(kind="help", text="ask me: why can't I connect to HOST:PORT [from VANTAGE]")
        if cmd == "incidents":
            self.handled.append({"kind": "incidents", "text": text, "who": who})
            return Outcome(kind="incidents", data={"incidents": await self.open_incidents()})
        if cmd in ("ack", "resolve") and len(words) > 1 and words[-1].isdigit():
            return await self.action(cmd, int(words[-1]), who=who, channel=channel)
        m = TARGET.search(text)
        host, port = (m.group(1), int(m.group(2))) if m else ("localhost", 1)
        self.handled.append({"kind": "diagnosis", "text": text, "who": who, "channel": channel, "thread_ts": thread_ts})
        return await self._diagnose(host, port, who, text, None, on_progress)

    async def action(
        self,
        action: str,
        incident_id: int,
        *,
        who: str,
        channel: str | None = None,
        on_progress=None,
        groups: Sequence[str] = (),
    ) -> Outcome:
        self.groups_seen = list(groups)
        self.actions.append({"action": action, "id": incident_id, "who": who, "channel": channel})
        inc = self.incidents.get(incident_id)
        if inc is None:
            return Outcome(kind="error", text=f"no incident #{incident_id}")
        inc["audit"].append((action, who))
        if action == "rerun":
            return await self._diagnose(inc["host"], inc["port"], who, "rerun", incident_id, on_progress)
        if action == "verify":
            inc["status"] = "resolved"
            out = await self._diagnose(inc["host"], inc["port"], who, "verify", incident_id, on_progress)
            out.diagnosis = Diagnosis(
                verdict="verified: the findings are gone; incident resolved", cleared=["port-not-listening"]
            )
            out.incident = IncidentInfo(id=incident_id, status="resolved")
            return out
        if action == "evidence":
            size = "many" if inc["host"].startswith("big") else ""
            base = fixtures.many_findings() if size else fixtures.one_finding()
            return Outcome(
                kind="text",
                evidence=base.evidence,
                text=f"evidence for incident #{incident_id}",
                incident=IncidentInfo(id=incident_id, status=inc["status"]),
            )
        if action in ("ack", "resolve"):
            inc["status"] = "acked" if action == "ack" else "resolved"
            return Outcome(
                kind=action,
                text=f"incident #{incident_id} {inc['status']} by {who}",
                incident=IncidentInfo(id=incident_id, status=inc["status"]),
            )
        return Outcome(kind="error", text=f"unknown action {action}")

    def allowed(self, action: str, *, user: str, channel: str | None = None, groups: Sequence[str] = ()) -> bool:
        return permissions.allowed(self.permissions, permissions.required_permission(action), user, channel, groups)

    async def waive(self, host: str, key: str, *, who: str, days: int = 30) -> Outcome:
        """Like ``Whycant.waive``: validate the target, record it, answer with the date."""
        from bot.drift.waivers import check_waiver_target
        from probes.errors import BadInput

        if not self.has_database:
            return Outcome(kind="error", ephemeral=True, text="waivers need a database; none is configured")
        try:
            host = check_waiver_target(host, key)
        except BadInput as e:
            return Outcome(kind="error", ephemeral=True, text=str(e))
        until = datetime.now(timezone.utc) + timedelta(days=days)
        w = {
            "id": len(self.waivers) + 1,
            "host": host,
            "key": key,
            "until": until.isoformat(),
            "reason": f"waived from Slack by {who}",
            "who": who,
        }
        self.waivers.append(w)
        return Outcome(
            kind="text",
            ephemeral=True,
            text=f"{host} {key} waived until {until:%Y-%m-%d} (by {who})",
            data={"waiver": w},
        )

    async def claim_event(self, event_id: str) -> bool:
        if event_id in self.claimed:
            return False
        self.claimed.add(event_id)
        return True

    async def open_incidents(self) -> list[dict]:
        return [
            {k: v for k, v in i.items() if k != "audit"} for i in self.incidents.values() if i["status"] != "resolved"
        ]

    async def drift_summary(self) -> str:
        return "weekly-drift: 2 drifts on 12 hosts (db01 net.ipv4.tcp_tw_recycle = 1 [tcp-tw-recycle])"

    async def close(self) -> None:
        pass
