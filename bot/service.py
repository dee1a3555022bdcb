"""The core service every front end calls: text in, ``Outcome`` out.

request -> plan -> probes -> evidence -> rules -> findings -> Outcome -> (store)
Front ends (CLI, console, Slack) only parse their own input and render.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, NamedTuple, Sequence

from bot import commands, load_metrics, metrics, permissions
from bot.config import Config
from bot.drift import run_drift
from bot.drift.store import DriftStore
from bot.drift.waivers import check_waiver_target
from bot.engine import diagnose, load_rules
from bot.file_modes import warn_exposed
from bot.findings import Diagnosis, Finding, Fix
from bot.interrupt import received_signal
from bot.inventory import Inventory, with_bot_vantage
from bot.outcome import IncidentInfo, Outcome, Progress
from bot.paste import read_paste
from bot.ratelimit import AskLimiter
from bot.request import ParsedRequest, parse_request, resolve_hosts, resolve_request
from bot.storage.resilient import open_store_bounded, spool_for
from bot.singleflight import Flight, SingleFlight
from bot.storage.store import database_trouble
from bot.zones.plan import zones_in_config
from bot.watch.chat import watch_command
from probes.collect import Collector, ProbeSettings, TransportSet, VantagePoint
from probes.errors import BadInput
from probes.evidence import Evidence, Request
from probes.limits import TargetLimiter
from probes.transports.local import LocalTransport
from probes.transports.ssh import SSHTransport

log = logging.getLogger("whycant.service")

OnProgress = Callable[[Progress], Awaitable[None]] | None

HELP = commands.help_text()


@dataclass(frozen=True)
class Ask:
    """Who asks, where, and where progress goes: what every command handler gets besides its words."""

    who: str = "console"
    channel: str | None = None
    thread_ts: str | None = None
    on_progress: OnProgress = None
    groups: Sequence[str] = ()


def build_transports(config: Config, hosts: Any = None) -> TransportSet:
    """Transports for *config*; *hosts* (name -> Host) lets ``proxy_jump`` name inventory hosts."""
    return TransportSet(ssh=SSHTransport(config.ssh.settings(config.base_dir()), hosts=hosts),
                        local=LocalTransport(config.ssh.max_output_bytes))


def probe_settings(config: Config) -> ProbeSettings:
    p = config.probe
    return ProbeSettings(window_seconds=p.window_seconds, connect_attempts=p.connect_attempts,
                         connect_timeout=p.connect_timeout, connect_interval=p.connect_interval,
                         command_timeout=config.ssh.command_timeout, drop_reasons=p.drop_reasons,
                         sudo=bool(getattr(config.ssh, "sudo", False)))


class JoinedAsk(NamedTuple):
    """Who joined a shared run, and where to answer them."""

    who: str
    channel: str | None
    thread_ts: str | None


@dataclass
class SharedRun:
    """What every caller of one diagnosis run gets: the evidence, the findings, the leader's incident,
    and the incident as seen by the joiners ``recorded`` with it (``None`` when nobody joined)."""

    evidence: Evidence
    diagnosis: Diagnosis
    incident: IncidentInfo
    joiners: IncidentInfo | None
    recorded: list[JoinedAsk]


class Whycant:
    """One bot instance: configuration, inventory, rules, transports and (optionally) storage."""

    def __init__(self, config: Config, *, transports: TransportSet | None = None, store: Any = None,
                 rules: Any = None):
        self.config = config
        self.inventory = Inventory.from_config(config)
        self.rules = rules if rules is not None else load_rules(config.playbook_paths, base_dir=config.base_dir())
        self.transports = transports or build_transports(config, self.inventory.hosts)
        # load limits (docs/load.md): one limiter for every caller that probes, one run per target
        lim = config.limits
        self.limiter = TargetLimiter(syn_per_minute=lim.syn_per_target_per_minute, syn_wait=lim.syn_wait_seconds,
                                     connect_tests=lim.connect_tests_per_target,
                                     channels=lim.ssh_channels_per_target)
        self.transports.limiter = self.limiter
        self.collector = Collector(self.transports, probe_settings(config), limiter=self.limiter,
                                   batch_window=lim.connect_batch_window_seconds)
        self.flights: SingleFlight[SharedRun] = SingleFlight()
        self.ask_limiter = AskLimiter(lim.asks_per_user_per_minute, lim.asks_per_channel_per_minute)
        self.store = store
        self.watch_manager: Any = None  # bot.watch.manager.WatchManager, set by the front end that runs watches
        self.store_error: str | None = None  # why the database could not be opened (incidents are spooled)
        self.spool: Any = None  # bot.storage.spool.Spool when storage is on
        self.interrupted: list[int] = []  # incidents marked interrupted when a signal stopped us
        self.zone_client: Any = None  # bot.zones.fanout.ZoneClient, opened on the first cross-zone diagnosis
        # the sysctls the rules mention: read once (it scans the playbook files), used on every probe
        self._rule_sysctls = set(getattr(self.rules, "sysctl_keys", lambda: [])())

    @classmethod
    async def create(cls, config: Config, *, transports: TransportSet | None = None, storage: bool = True,
                     rules: Any = None) -> "Whycant":
        warn_exposed(config)
        store, store_error, spool = None, None, None
        if storage:
            spool = spool_for(config)
            store, store_error = await open_store_bounded(config, spool)
        svc = cls(config, transports=transports, store=store, rules=rules)
        svc.store_error, svc.spool = store_error, spool
        return svc

    async def reconnect_and_flush(self) -> None:
        """Reopen a database that was unavailable and write the spool (``serve`` calls this periodically)."""
        if self.spool is None:
            return
        if self.store is None:
            self.store, self.store_error = await open_store_bounded(self.config, self.spool)  # also flushes
        elif self.spool.pending():
            await self.store.flush_spool()

    async def mark_interrupted(self, reason: str | None = None) -> list[int]:
        """Mark this process's unfinished diagnoses ``interrupted`` (bounded; ``serve`` calls it on shutdown)."""
        if self.store is None:
            return []
        ids = await self._store_call("interrupt_runs", reason=reason or received_signal() or "cancelled")
        if isinstance(ids, list):
            self.interrupted += ids
            return ids
        return []

    async def close(self) -> None:
        if self.zone_client is not None:
            await self.zone_client.close()
        await self.transports.close()
        if self.store is not None:
            await self.store.close()

    # -- permissions -------------------------------------------------------------------------
    def allowed(self, action: str, *, user: str, channel: str | None = None, groups: Sequence[str] = ()) -> bool:
        """Whether *user* may run the command or button *action* (its permission from the registry)."""
        return permissions.allowed(self.config.permissions, commands.permission_for(action), user=user,
                                   channel=channel, groups=groups)

    async def open_incidents(self) -> list[dict]:
        """Open, acked and interrupted incidents, newest first (App Home)."""
        if self.store is None:
            return []
        return await self.store.open_incidents()

    async def claim_event(self, event_id: str) -> bool:
        if self.store is None:
            return True
        return await self.store.claim_event(event_id)

    # -- planning ----------------------------------------------------------------------------
    def vantages_for(self, request: Request) -> list[VantagePoint]:
        """The asked vantages (or every configured one), with the bot itself first
        (except for a target behind a jump host: ``bot.inventory.with_bot_vantage``)."""
        known = self.inventory.vantages()
        names = with_bot_vantage(request.vantages or list(known), self.inventory.get(request.target),
                                 explicit_bot="bot" in request.vantages)
        out: list[VantagePoint] = []
        for name in names:
            v = known.get(name) or self.inventory.resolve_vantage(name)
            out.append(VantagePoint(v.name, v.host, nat=bool(getattr(v, "nat", False)), note=v.note))
        return out

    def extra_sysctls(self, host_name: str) -> list[str]:
        """Sysctls named by the rules and by the host's groups' baselines."""
        keys = set(self._rule_sysctls)
        try:
            host = self.inventory.resolve(host_name)
            for g in host.groups:
                keys |= set(self.config.baselines.get(g, {}))
        except BadInput:
            pass
        return sorted(keys)

    # -- commands ----------------------------------------------------------------------------
    async def handle(self, text: str, *, who: str = "console", channel: str | None = None,
                     thread_ts: str | None = None, on_progress: OnProgress = None,
                     groups: Sequence[str] = ()) -> Outcome:
        """Parse chat text and run the registry command it names. Bad input becomes an error Outcome."""
        try:
            parsed = parse_request(text)
            command = commands.get(parsed.intent)
            if command is None:  # the grammar only yields registry names
                raise BadInput(f"unknown command {parsed.intent!r}; try `help`")
            if not self.allowed(command.name, user=who, channel=channel, groups=groups):
                return Outcome(kind="refused", ephemeral=True,
                               text=f"You may not {command.name} here (permission `{command.permission}`"
                                    " is not granted to you in whycant's config).")
            handler = getattr(self, command.handler)
            return await handler(parsed, Ask(who=who, channel=channel, thread_ts=thread_ts,
                                             on_progress=on_progress, groups=groups))
        except BadInput as e:
            return Outcome(kind="error", text=str(e))

    # One handler per registry entry (``bot.commands.Command.handler``): (parsed request, Ask) -> Outcome.
    async def cmd_help(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        return Outcome(kind="help", text=HELP)

    async def cmd_diagnose(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        requests = resolve_request(parsed, self.inventory)
        # chat asks only (the CLI and console have no channel): per-user and per-channel limits (docs/load.md)
        refusal = self.ask_limiter.check(ask.who, ask.channel) if ask.channel is not None else None
        if refusal is not None:
            load_metrics.RATE_LIMITED.labels(refusal.scope).inc()
            return Outcome(kind="text", ephemeral=True, text=refusal.text,
                           data={"rate_limited": refusal.scope, "retry_after_s": refusal.retry_after_s})
        return await self._diagnose_requests(requests, text=parsed.text, who=ask.who, channel=ask.channel,
                                             thread_ts=ask.thread_ts, on_progress=ask.on_progress)

    async def cmd_analyze(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """Diagnose pasted output: nothing is probed; the incident keeps the paste as its evidence."""
        paste = parsed.paste or ""
        # one incident per distinct paste: the same paste twice joins, two different pastes do not
        host = "pasted-" + hashlib.sha256(paste.encode()).hexdigest()[:8]
        evidence, notes = read_paste(paste, host=host)
        lines = paste.count("\n") + 1
        request = Request(text=f"analyze (pasted, {lines} line{'s' if lines != 1 else ''})", target=host,
                          address="", port=evidence.request.port if evidence.request else None, who=ask.who)
        evidence = evidence.model_copy(update={"request": request, "source": "pasted"})
        diagnosis = diagnose(evidence, self.rules)
        incident = await self._record(request, evidence, diagnosis, ask.who, ask.channel, ask.thread_ts, None,
                                      datetime.now(UTC))
        metrics.observe(evidence, diagnosis, incident.storage_error if self.store is not None or self.store_error else None)
        return Outcome(kind="diagnosis", request=request, evidence=evidence, diagnosis=diagnosis, incident=incident,
                       text="\n".join(["pasted output, nothing probed", *notes]), data={"pasted": True})

    async def cmd_incidents(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        store = self._need_store()
        return Outcome(kind="incidents", data={"incidents": await store.open_incidents()})

    async def cmd_incident(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """``incident``/``ack``/``resolve``/``rerun``/``evidence``/``verify`` N: the button actions, typed."""
        self._need_store()
        args = list(parsed.args or [])
        if not args or not str(args[0]).isdigit():
            raise BadInput(f"{parsed.intent} needs an incident number, e.g. `{parsed.intent} 42`")
        return await self.action(parsed.intent, int(args[0]), who=ask.who, channel=ask.channel,
                                 on_progress=ask.on_progress, note=" ".join(args[1:]) or None, groups=ask.groups)

    async def cmd_history(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        store = self._need_store()
        host = resolve_hosts(parsed, self.inventory)[0]
        return Outcome(kind="history", data={"host": host.name, "incidents": await store.history(host.name)})

    async def cmd_drift(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        return Outcome(kind="drift", data=await run_drift(self, parsed.args or ["all"]))

    async def cmd_watch(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """``watch …`` / ``watches`` / ``unwatch N`` (docs/watch.md)."""
        return await watch_command(self, parsed.intent, list(parsed.args or []), who=ask.who, channel=ask.channel)

    def _need_store(self) -> Any:
        if self.store is None:
            raise BadInput("incidents need a database; none is configured")
        return self.store

    async def _diagnose_requests(self, requests: list[Request], **kw: Any) -> Outcome:
        if len(requests) > 1:
            first = requests[0]
            services = ", ".join(f"{r.service} ({r.port})" for r in requests)
            req = first.model_copy(update={"port": None, "service": None})
            out = await self.diagnose(req, **kw)
            out.text = (f"{first.target} serves {services}: host-level checks only. "
                        f"Ask e.g. `{first.target}:{requests[0].service}` to test connections.")
            return out
        return await self.diagnose(requests[0], **kw)

    async def diagnose(self, request: Request, *, text: str = "", who: str = "console", channel: str | None = None,
                       thread_ts: str | None = None, on_progress: OnProgress = None) -> Outcome:
        """Diagnose one request. Concurrent asks about the same target, port and vantages share one run
        (bot/singleflight.py): one collection, one stored incident; joiners are added to it as askers."""
        request = request.model_copy(update={"text": text or request.text, "who": who})
        target = self.inventory.resolve(request.target)
        vantages = self.vantages_for(request) if request.port else []
        if request.port:
            request = request.model_copy(update={"vantages": [v.name for v in vantages]})
        key = (target.name, request.address, request.port, tuple(v.name for v in vantages))
        running = self.flights.running(key)
        if running is not None and who in running.askers:
            load_metrics.ALREADY_RUNNING.inc()
            where = f"{target.name}:{request.port}" if request.port else target.name
            return Outcome(kind="text", ephemeral=True, data={"already_running": True},
                           text=f"I'm already diagnosing {where} for you (asked {time.monotonic() - running.started:.0f} s "
                                "ago); the answer comes in that thread.")

        async def progress(stage: str, message: str, kw: dict[str, Any]) -> None:
            if on_progress is not None:
                await on_progress(Progress(stage=stage, message=message, **{k: v for k, v in kw.items()
                                                                              if k in ("vantage", "done", "total")}))

        async def work(flight: Flight[SharedRun]) -> SharedRun:
            return await self._run_diagnosis(request, target, vantages, who, channel, thread_ts, flight)

        ask = JoinedAsk(who, channel, thread_ts)
        shared, joined = await self.flights.run(key, work, on_progress=progress, who=who, meta=ask)
        incident = shared.incident
        if joined:
            load_metrics.SHARED_RUNS.inc()
            recorded = any(a is ask for a in shared.recorded)
            incident = shared.joiners if recorded and shared.joiners else await self._join_incident(incident, [ask])
        return Outcome(kind="diagnosis", request=shared.evidence.request or request, evidence=shared.evidence,
                       diagnosis=shared.diagnosis, incident=incident)

    async def _run_diagnosis(self, request: Request, target: Any, vantages: list[VantagePoint], who: str,
                             channel: str | None, thread_ts: str | None, flight: Flight[SharedRun]) -> SharedRun:
        progress = flight.broadcast
        pending, at = None, datetime.now(UTC)
        try:
            if self.store is not None:
                pending = await self._store_call("start_diagnosis", request=request, who=who, channel=channel,
                                                 thread_ts=thread_ts)
            evidence = await self._collect(request, target, vantages, progress, self.extra_sysctls(target.name))
        except asyncio.CancelledError:  # stopped (signal, shutdown): the transports kill their remote commands
            await self.mark_interrupted()
            raise
        request = evidence.request or request  # a cross-zone plan may drop the bot's own vantage
        diagnosis = diagnose(evidence, self.rules)
        await progress("rules", diagnosis.verdict, {})
        incident = await self._record(request, evidence, diagnosis, who, channel, thread_ts, pending, at)
        metrics.observe(evidence, diagnosis, incident.storage_error if self.store is not None or self.store_error else None,
                        group=metrics.primary_group(target.groups))
        joiners = list(flight.meta[1:])  # everyone who joined so far: one write for all of them
        info = await self._join_incident(incident, joiners) if joiners else None
        return SharedRun(evidence, diagnosis, incident, info, joiners)

    async def _join_incident(self, leader: IncidentInfo, asks: list[JoinedAsk]) -> IncidentInfo:
        """Joiners of a shared run: added to the leader's incident as askers, never a second incident."""
        if self.store is None or leader.id is None:
            return leader.model_copy(update={"joined": True})
        info = await self._store_call("join_run", incident_id=leader.id, asks=[tuple(a) for a in asks])
        if not isinstance(info, IncidentInfo):  # None or the reason the database failed
            return leader.model_copy(update={"joined": True, "storage_error": f"incident {leader.id}: your ask "
                                             "was not added to it (database unavailable; see the log)"})
        return info

    async def _collect(self, request: Request, target: Any, vantages: list[VantagePoint], on_progress: Any,
                       extra: list[str]) -> Evidence:
        """Probe here, or across zones when the config names any (docs/zones.md)."""
        if not zones_in_config(self.config, self.inventory.zones):
            return await self.collector.collect(request, target, vantages, on_progress=on_progress, extra_sysctls=extra)
        # procrastinate (about 1 s to import here) is loaded only when zones are configured
        from bot.zones import fanout  # noqa: PLC0415

        return await fanout.collect(self, request, target, vantages, on_progress=on_progress, extra_sysctls=extra)

    async def _store_call(self, name: str, **kw: Any) -> Any:
        """A store call bounded by ``database_wait_seconds``; on failure the reason (a str) instead."""
        wait = self.config.database_wait_seconds
        try:
            return await asyncio.wait_for(getattr(self.store, name)(**kw), wait)
        except Exception as e:  # noqa: BLE001 - storage trouble never loses the answer
            log.warning("storage %s failed: %s", name, e)
            return database_trouble(e, wait)

    async def _record(self, request: Request, evidence: Evidence, diagnosis: Diagnosis, who: str,
                      channel: str | None, thread_ts: str | None, pending: Any, at: datetime) -> IncidentInfo:
        trouble = self.store_error if self.store is None else pending if isinstance(pending, str) else None
        if trouble and self.spool is not None:  # the database failed already: answer now, write it later
            return self.spool.keep(trouble, pending_id=None, request=request, evidence=evidence, diagnosis=diagnosis,
                                   who=who, channel=channel, thread_ts=thread_ts, at=at)
        if self.store is None:
            return IncidentInfo(id=None, storage_error="incident not stored: no database configured")
        return await self.store.record_or_retry(request=request, evidence=evidence, diagnosis=diagnosis, who=who,
                                                channel=channel, thread_ts=thread_ts, pending=pending)

    async def waive(self, host: str, key: str, *, who: str, days: int = 30) -> Outcome:
        """Record a waiver for one drift (the report's "Waive 30 days" button): *host* *key* is
        accepted until now + *days*, by *who*. The caller checks the ``waive`` permission."""
        store = DriftStore.for_service(self)
        if store is None:
            return Outcome(kind="error", ephemeral=True, text="waivers need a database; none is configured")
        if not 1 <= int(days) <= 366:
            return Outcome(kind="error", ephemeral=True, text=f"a waiver lasts 1 to 366 days, not {days}")
        try:
            host = check_waiver_target(host, key, self.inventory)
        except BadInput as e:
            return Outcome(kind="error", ephemeral=True, text=str(e))
        until = datetime.now(timezone.utc) + timedelta(days=int(days))
        reason = f"waived from Slack by {who}"
        wid = await store.add_waiver(host, key, until, reason, who)
        log.info("waiver %s: %s %s until %s by %s", wid, host, key, until.isoformat(), who)
        return Outcome(kind="text", ephemeral=True, text=f"{host} {key} waived until {until:%Y-%m-%d} (by {who})",
                       data={"waiver": {"id": wid, "host": host, "key": key, "until": until.isoformat(),
                                        "reason": reason, "who": who}})

    def _no_store_text(self) -> str:
        if self.store_error:
            return f"incidents need the database, which is unavailable: {self.store_error}"
        return "incidents need a database; none is configured"

    async def _incident_view(self, inc: dict) -> Outcome:
        """A stored incident shown like a fresh reply: its findings, evidence, status and audit."""
        findings = [Finding(id=f["id"], severity=f["severity"], title=f["title"], explanation=f["explanation"],
                            evidence=list(f.get("evidence") or []), fix=Fix(**(f.get("fix") or {})),
                            confidence=float(f.get("confidence") or 1.0)) for f in inc.get("findings", [])]
        raw = await self.store.latest_evidence(inc["id"])
        evidence = Evidence.model_validate(raw) if raw else None
        diagnosis = Diagnosis(verdict=inc.get("verdict") or "", findings=findings,
                              partial=bool(evidence and evidence.partial))
        askers = inc.get("askers") or []
        who = ", ".join(sorted({a.get("who") or "?" for a in askers}))
        audit = "; ".join(f"{a.get('at', '')[:19].replace('T', ' ')} {a.get('who') or '?'} {a.get('action')}"
                          for a in inc.get("audit", []))
        return Outcome(kind="diagnosis", request=Request.model_validate(inc["request"]), evidence=evidence,
                       diagnosis=diagnosis, text=f"history: {audit}" if audit else None,
                       incident=IncidentInfo(id=inc["id"], status=inc.get("status"), askers=len(askers) or 1,
                                             askers_text=f"asked by {who}" if who else None),
                       data={"audit": inc.get("audit", [])})

    async def action(self, action: str, incident_id: int, *, who: str, channel: str | None = None,
                     on_progress: OnProgress = None, note: str | None = None,
                     groups: Sequence[str] = ()) -> Outcome:
        """Buttons and triage commands on a stored incident."""
        if not self.allowed(action, user=who, channel=channel, groups=groups):
            return Outcome(kind="refused", ephemeral=True,
                           text=f"You may not {action} incidents (permission `{commands.permission_for(action)}`).")
        if self.store is None:
            return Outcome(kind="error", text=self._no_store_text())
        inc = await self.store.get(incident_id)  # raises BadInput for unknown ids
        if action == "incident":
            return await self._incident_view(inc)
        if action in ("ack", "resolve"):
            fn = self.store.ack if action == "ack" else self.store.resolve
            await fn(incident_id, who=who, **({"note": note} if action == "resolve" else {}))
            done = "acked" if action == "ack" else "resolved"
            return Outcome(kind="ack" if action == "ack" else "resolve", text=f"Incident {incident_id} {done} by {who}.",
                           incident=IncidentInfo(id=incident_id, status=done))
        if action == "evidence":
            raw = await self.store.latest_evidence(incident_id)
            if raw is None:
                return Outcome(kind="text", text=f"Incident {incident_id} has no stored evidence.")
            await self.store.record_action(incident_id, "evidence", who=who)
            return Outcome(kind="incident", data={"incident": inc}, evidence=Evidence.model_validate(raw),
                           request=Request.model_validate(inc["request"]))
        if action in ("rerun", "verify"):
            request = Request.model_validate(inc["request"])
            latest = await self.store.latest_evidence(incident_id)
            if latest and latest.get("source") == "pasted":
                raise BadInput(f"incident {incident_id} came from pasted output: there is nothing to {action}; "
                               "paste the new output with `analyze`")
            before = {f["id"] for f in inc.get("findings", [])}
            out = await self.diagnose(request, text=request.text, who=who, channel=channel,
                                      thread_ts=inc.get("thread_ts"), on_progress=on_progress)
            after = {f.id for f in out.diagnosis.findings} if out.diagnosis else set()
            out.data["before_after"] = {"before": sorted(before), "after": sorted(after),
                                        "gone": sorted(before - after), "new": sorted(after - before)}
            out.data["action"] = action
            await self.store.record_action(incident_id, "verified" if action == "verify" else action, who=who,
                                           detail=out.data["before_after"])
            new_critical = any(f.severity == "critical" and f.id not in before
                               for f in (out.diagnosis.findings if out.diagnosis else []))
            if (action == "verify" and before and not (before & after) and not new_critical
                    and out.diagnosis and not out.diagnosis.partial):
                await self.store.resolve(incident_id, who=who, note="verified: findings gone after the fix")
                out.data["auto_resolved"] = True
                if out.incident is not None and out.incident.id == incident_id:
                    out.incident.status = "resolved"
            return out
        raise BadInput(f"unknown action {action!r}")

