"""The core service every front end calls: text in, ``Outcome`` out.

request -> plan -> probes -> evidence -> rules -> findings -> Outcome -> (store)
Front ends (CLI, console, Slack) only parse their own input and render.

``Whycant`` builds the parts (inventory, rules, transports, limits, storage) and dispatches each command
to the handler the registry names (``bot/commands.py``); the ask pipeline is ``bot.pipeline.AskPipeline``,
the incident commands and buttons ``bot.triage.TriageCommands``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot import commands, load_metrics, metrics
from bot.config import Config
from bot.drift import run_drift
from bot.drift.store import DriftStore
from bot.drift.waivers import check_waiver_target
from bot.engine import diagnose, load_rules
from bot.file_modes import warn_exposed
from bot.inventory import Inventory
from bot.outcome import Outcome
from bot.paste import read_paste
from bot.pipeline import Ask, OnProgress, SharedRun
from bot.ratelimit import AskLimiter
from bot.request import ParsedRequest, parse_request, resolve_request
from bot.singleflight import SingleFlight
from bot.storage.resilient import open_store_bounded, spool_for
from bot.storage.spool import Spool
from bot.storage.store import Store
from bot.triage import TriageCommands
from bot.watch.chat import watch_command
from probes.collect import Collector, ProbeSettings, TransportSet
from probes.errors import BadInput
from probes.evidence import Request
from probes.limits import TargetLimiter
from probes.transports.local import LocalTransport
from probes.transports.ssh import SSHTransport

log = logging.getLogger("whycant.service")

HELP = commands.help_text()


def build_transports(config: Config, hosts: Any = None) -> TransportSet:
    """Transports for *config*; *hosts* (name -> Host) lets ``proxy_jump`` name inventory hosts."""
    return TransportSet(
        ssh=SSHTransport(config.ssh.settings(config.base_dir()), hosts=hosts),
        local=LocalTransport(config.ssh.max_output_bytes),
    )


def probe_settings(config: Config) -> ProbeSettings:
    p = config.probe
    return ProbeSettings(
        window_seconds=p.window_seconds,
        connect_attempts=p.connect_attempts,
        connect_timeout=p.connect_timeout,
        connect_interval=p.connect_interval,
        command_timeout=config.ssh.command_timeout,
        drop_reasons=p.drop_reasons,
        sudo=bool(getattr(config.ssh, "sudo", False)),
    )


class Whycant(TriageCommands):
    """One bot instance: configuration, inventory, rules, transports and (optionally) storage."""

    def __init__(
        self, config: Config, *, transports: TransportSet | None = None, store: Store | None = None, rules: Any = None
    ):
        self.config = config
        self.inventory = Inventory.from_config(config)
        self.rules = rules if rules is not None else load_rules(config.playbook_paths, base_dir=config.base_dir())
        self.transports = transports or build_transports(config, self.inventory.hosts)
        # load limits (docs/load.md): one limiter for every caller that probes, one run per target
        lim = config.limits
        self.limiter = TargetLimiter(
            syn_per_minute=lim.syn_per_target_per_minute,
            syn_wait=lim.syn_wait_seconds,
            connect_tests=lim.connect_tests_per_target,
            channels=lim.ssh_channels_per_target,
        )
        self.transports.limiter = self.limiter
        self.inventory.jumps_of = self.transports.jump_hosts  # no bot connect row behind a jump host
        self.collector = Collector(
            self.transports, probe_settings(config), limiter=self.limiter, batch_window=lim.connect_batch_window_seconds
        )
        self.flights: SingleFlight[SharedRun] = SingleFlight()
        self.ask_limiter = AskLimiter(lim.asks_per_user_per_minute, lim.asks_per_channel_per_minute)
        self.store = store
        self.watch_manager: Any = None  # bot.watch.manager.WatchManager, set by the front end that runs watches
        self.store_error: str | None = None  # why the database could not be opened (incidents are spooled)
        self.spool: Spool | None = None  # when storage is on
        self.interrupted: list[int] = []  # incidents marked interrupted when a signal stopped us
        self.zone_client: Any = None  # bot.zones.fanout.ZoneClient, opened on the first cross-zone diagnosis
        # the sysctls the rules mention: read once (it scans the playbook files), used on every probe
        self.rule_sysctls = set(getattr(self.rules, "sysctl_keys", lambda: [])())

    @classmethod
    async def create(
        cls, config: Config, *, transports: TransportSet | None = None, storage: bool = True, rules: Any = None
    ) -> "Whycant":
        warn_exposed(config)
        store: Store | None = None
        store_error: str | None = None
        spool: Spool | None = None
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

    async def close(self) -> None:
        if self.zone_client is not None:
            await self.zone_client.close()
        await self.transports.close()
        if self.store is not None:
            await self.store.close()

    async def claim_event(self, event_id: str) -> bool:
        if self.store is None:
            return True
        return await self.store.claim_event(event_id)

    # -- commands ----------------------------------------------------------------------------
    async def handle(
        self,
        text: str,
        *,
        who: str = "console",
        channel: str | None = None,
        thread_ts: str | None = None,
        on_progress: OnProgress = None,
        groups: Sequence[str] = (),
    ) -> Outcome:
        """Parse chat text and run the registry command it names. Bad input becomes an error Outcome."""
        try:
            parsed = parse_request(text)
            command = commands.get(parsed.intent)
            if command is None:  # the grammar only yields registry names
                raise BadInput(f"unknown command {parsed.intent!r}; try `help`")
            if not self.allowed(command.name, user=who, channel=channel, groups=groups):
                return Outcome(
                    kind="refused",
                    ephemeral=True,
                    text=f"You may not {command.name} here (permission `{command.permission}`"
                    " is not granted to you in whycant's config).",
                )
            handler = getattr(self, command.handler)
            return await handler(
                parsed, Ask(who=who, channel=channel, thread_ts=thread_ts, on_progress=on_progress, groups=groups)
            )
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
            return Outcome(
                kind="text",
                ephemeral=True,
                text=refusal.text,
                data={"rate_limited": refusal.scope, "retry_after_s": refusal.retry_after_s},
            )
        return await self.diagnose_requests(
            requests,
            text=parsed.text,
            who=ask.who,
            channel=ask.channel,
            thread_ts=ask.thread_ts,
            on_progress=ask.on_progress,
        )

    async def cmd_analyze(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """Diagnose pasted output: nothing is probed; the incident keeps the paste as its evidence."""
        paste = parsed.paste or ""
        # one incident per distinct paste: the same paste twice joins, two different pastes do not
        host = "pasted-" + hashlib.sha256(paste.encode()).hexdigest()[:8]
        evidence, notes = read_paste(paste, host=host)
        lines = paste.count("\n") + 1
        request = Request(
            text=f"analyze (pasted, {lines} line{'s' if lines != 1 else ''})",
            target=host,
            address="",
            port=evidence.request.port if evidence.request else None,
            who=ask.who,
        )
        evidence = evidence.model_copy(update={"request": request, "source": "pasted"})
        diagnosis = diagnose(evidence, self.rules)
        incident = await self.record(
            request, evidence, diagnosis, ask.who, ask.channel, ask.thread_ts, None, datetime.now(UTC)
        )
        metrics.observe(evidence, diagnosis, self.storage_error_of(incident))
        return Outcome(
            kind="diagnosis",
            request=request,
            evidence=evidence,
            diagnosis=diagnosis,
            incident=incident,
            text="\n".join(["pasted output, nothing probed", *notes]),
            data={"pasted": True},
        )

    async def cmd_drift(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        return Outcome(kind="drift", data=await run_drift(self, parsed.args or ["all"]))

    async def cmd_watch(self, parsed: ParsedRequest, ask: Ask) -> Outcome:
        """``watch …`` / ``watches`` / ``unwatch N`` (docs/watch.md)."""
        return await watch_command(self, parsed.intent, list(parsed.args or []), who=ask.who, channel=ask.channel)

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
        return Outcome(
            kind="text",
            ephemeral=True,
            text=f"{host} {key} waived until {until:%Y-%m-%d} (by {who})",
            data={
                "waiver": {
                    "id": wid,
                    "host": host,
                    "key": key,
                    "until": until.isoformat(),
                    "reason": reason,
                    "who": who,
                }
            },
        )
