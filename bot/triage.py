"""Triage: the incident commands and buttons (``incidents``, ``history``, ``incident``/``ack``/``resolve``/
``rerun``/``evidence``/``verify`` N), on the one storage API (``bot.storage.store.Store``).

``TriageCommands`` is the part of ``bot.service.Whycant`` that works on stored incidents; its handlers are
named by the registry (``bot/commands.py``). Incidents reach the renderers as ``chat_dict()``s
(``bot.storage.results``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import commands, permissions
from bot.findings import Diagnosis, Finding, Fix
from bot.outcome import IncidentInfo, Outcome
from bot.pipeline import Ask, AskPipeline, OnProgress
from bot.request import ParsedRequest, resolve_hosts
from bot.storage.results import IncidentDetail
from bot.storage.store import Store
from probes.errors import BadInput
from probes.evidence import Request


class TriageCommands(AskPipeline):
    """Handlers for stored incidents, and the permission check every command and button goes through."""

    def allowed(self, action: str, *, user: str, channel: str | None = None, groups: Sequence[str] = ()) -> bool:
        """Whether *user* may run the command or button *action* (its permission from the registry)."""
        return permissions.allowed(
            self.config.permissions, commands.permission_for(action), user=user, channel=channel, groups=groups
        )

    async def open_incidents(self) -> list[dict]:
        """Open, acked and interrupted incidents, newest first (App Home)."""
        if self.store is None:
            return []
        return [i.chat_dict() for i in await self.store.open_incidents()]

    async def cmd_incidents(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        self._need_store()
        return Outcome(kind="incidents", data={"incidents": await self.open_incidents()})

    async def cmd_incident(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """``incident``/``ack``/``resolve``/``rerun``/``evidence``/``verify`` N: the button actions, typed."""
        self._need_store()
        args = list(parsed.args or [])
        if not args or not str(args[0]).isdigit():
            raise BadInput(f"{parsed.intent} needs an incident number, e.g. `{parsed.intent} 42`")
        return await self.action(
            parsed.intent,
            int(args[0]),
            who=ask.who,
            channel=ask.channel,
            on_progress=ask.on_progress,
            note=" ".join(args[1:]) or None,
            groups=ask.groups,
        )

    async def cmd_history(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        store = self._need_store()
        host = resolve_hosts(parsed, self.inventory)[0]
        items = [i.chat_dict() for i in await store.history(host.name)]
        return Outcome(kind="history", data={"host": host.name, "incidents": items})

    def _need_store(self) -> Store:
        if self.store is None:
            raise BadInput("incidents need a database; none is configured")
        return self.store

    def _no_store_text(self) -> str:
        if self.store_error:
            return f"incidents need the database, which is unavailable: {self.store_error}"
        return "incidents need a database; none is configured"

    async def _incident_view(self, store: Store, inc: IncidentDetail, request: Request) -> Outcome:
        """A stored incident shown like a fresh reply: its findings, evidence, status and audit."""
        findings = [
            Finding(
                id=f["id"],
                severity=f["severity"],
                title=f["title"],
                explanation=f["explanation"],
                evidence=list(f.get("evidence") or []),
                fix=Fix(**(f.get("fix") or {})),
                confidence=float(f.get("confidence") or 1.0),
            )
            for f in inc.findings
        ]
        evidence = await store.latest_evidence(inc.incident.id)
        diagnosis = Diagnosis(
            verdict=inc.incident.verdict or "", findings=findings, partial=bool(evidence and evidence.partial)
        )
        who = ", ".join(sorted({a.get("who") or "?" for a in inc.askers}))
        audit = "; ".join(
            f"{a.get('at', '')[:19].replace('T', ' ')} {a.get('who') or '?'} {a.get('action')}" for a in inc.audit
        )
        return Outcome(
            kind="diagnosis",
            request=request,
            evidence=evidence,
            diagnosis=diagnosis,
            text=f"history: {audit}" if audit else None,
            incident=IncidentInfo(
                id=inc.incident.id,
                status=inc.incident.status,
                askers=len(inc.askers) or 1,
                askers_text=f"asked by {who}" if who else None,
            ),
            data={"audit": inc.audit},
        )

    async def action(
        self,
        action: str,
        incident_id: int,
        *,
        who: str,
        channel: str | None = None,
        on_progress: OnProgress = None,
        note: str | None = None,
        groups: Sequence[str] = (),
    ) -> Outcome:
        """Buttons and triage commands on a stored incident."""
        if not self.allowed(action, user=who, channel=channel, groups=groups):
            return Outcome(
                kind="refused",
                ephemeral=True,
                text=f"You may not {action} incidents (permission `{commands.permission_for(action)}`).",
            )
        store = self.store
        if store is None:
            return Outcome(kind="error", text=self._no_store_text())
        inc = await store.get(incident_id)  # raises BadInput for unknown ids
        request = await store.request_of(inc)
        if action == "incident":
            return await self._incident_view(store, inc, request)
        if action in ("ack", "resolve"):
            if action == "ack":
                await store.ack(incident_id, who=who)
            else:
                await store.resolve(incident_id, who=who, note=note)
            done = "acked" if action == "ack" else "resolved"
            return Outcome(
                kind="ack" if action == "ack" else "resolve",
                text=f"Incident {incident_id} {done} by {who}.",
                incident=IncidentInfo(id=incident_id, status=done),
            )
        if action == "evidence":
            evidence = await store.latest_evidence(incident_id)
            if evidence is None:
                return Outcome(kind="text", text=f"Incident {incident_id} has no stored evidence.")
            await store.record_action(incident_id, "evidence", who=who)
            return Outcome(
                kind="incident", data={"incident": inc.chat_dict(request)}, evidence=evidence, request=request
            )
        if action in ("rerun", "verify"):
            return await self._rerun(store, action, inc, request, who=who, channel=channel, on_progress=on_progress)
        raise BadInput(f"unknown action {action!r}")

    async def _rerun(
        self,
        store: Store,
        action: str,
        inc: IncidentDetail,
        request: Request,
        *,
        who: str,
        channel: str | None,
        on_progress: OnProgress,
    ) -> Outcome:
        """Diagnose again; ``verify`` resolves the incident when its findings are gone and nothing new is critical."""
        incident_id = inc.incident.id
        latest = await store.latest_evidence(incident_id)
        if latest is not None and latest.source == "pasted":
            raise BadInput(
                f"incident {incident_id} came from pasted output: there is nothing to {action}; "
                "paste the new output with `analyze`"
            )
        before = {f["id"] for f in inc.findings}
        out = await self.diagnose(
            request,
            text=request.text,
            who=who,
            channel=channel,
            thread_ts=inc.incident.thread_ts,
            on_progress=on_progress,
        )
        after = {f.id for f in out.diagnosis.findings} if out.diagnosis else set()
        out.data["before_after"] = {
            "before": sorted(before),
            "after": sorted(after),
            "gone": sorted(before - after),
            "new": sorted(after - before),
        }
        out.data["action"] = action
        await store.record_action(
            incident_id, "verified" if action == "verify" else action, who=who, detail=out.data["before_after"]
        )
        new_critical = any(
            f.severity == "critical" and f.id not in before for f in (out.diagnosis.findings if out.diagnosis else [])
        )
        if (
            action == "verify"
            and before
            and not (before & after)
            and not new_critical
            and out.diagnosis
            and not out.diagnosis.partial
        ):
            await store.resolve(incident_id, who=who, note="verified: findings gone after the fix")
            out.data["auto_resolved"] = True
            if out.incident is not None and out.incident.id == incident_id:
                out.incident.status = "resolved"
        return out
