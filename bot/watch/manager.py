"""Every watch of one process: start or join (``watch``), list (``watches``), stop (``unwatch N``),
and resume the watches other replicas dropped (``run_resumer``: exactly once, see bot.watch.store)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from bot.drift.schedule import replica_id
from bot.request import parse_request, resolve_request
from bot.watch import events
from bot.watch.limits import SynBudget
from bot.watch.runner import WatchRunner, WatchSettings
from bot.watch.sinks import SlackSink, WatchSink
from bot.watch.spec import DEFAULT_DURATION, split_watch_text
from bot.watch.stats import summary
from bot.watch.store import WatchRecord, WatchStore
from bot.zones.plan import usable_vantages, zones_in_config
from probes.errors import BadInput
from probes.evidence import Request

log = logging.getLogger("whycant.watch")

SinkFactory = Callable[[WatchRecord], WatchSink]  # (watch) -> where its events go


@dataclass
class Running:
    runner: WatchRunner
    task: asyncio.Task
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def resolve_watch_request(svc: Any, text: str) -> tuple[Request, float | None, float | None]:
    """``watch db01:5432 from office for 4h every 10s`` -> the target request, duration, interval."""
    wt = split_watch_text(text)
    parsed = parse_request(wt.question)
    if parsed.intent != "diagnose":
        raise BadInput("watch what? e.g. `watch db01:5432 from office for 4h`")
    requests = resolve_request(parsed, svc.inventory)
    if len(requests) != 1 or requests[0].port is None:
        raise BadInput("a watch needs one port, e.g. `watch db01:5432` or `watch db01:postgres`")
    req = requests[0]
    vantages = svc.vantages_for(req)
    if zones_in_config(svc.config, svc.inventory.zones):  # the bot's own cannot reach a target in another zone
        vantages = usable_vantages(svc.inventory.resolve(req.target), vantages, svc.config)
    return req.model_copy(update={"vantages": [v.name for v in vantages], "text": text}), wt.duration_s, wt.interval_s


class WatchManager:
    def __init__(
        self,
        svc: Any,
        sink_for: SinkFactory,
        *,
        replica: str,
        settings: WatchSettings | None = None,
        budget: SynBudget | None = None,
        stale_after: float | None = None,
    ):
        if svc.store is None:
            raise BadInput("watches need a database; none is configured")
        self.svc, self.sink_for = svc, sink_for
        self.settings = settings or WatchSettings()
        self.budget = budget or SynBudget(self.settings.syn_per_minute)
        self.store = WatchStore(svc.store.db, replica)
        self.stale_after = stale_after
        self.running: dict[int, Running] = {}

    def _start(
        self, rec: WatchRecord, *, joined: bool = False, resumed: bool = False, on_stop: str = "interrupted"
    ) -> Running:
        runner = WatchRunner(
            self.svc, rec, self.sink_for(rec), budget=self.budget, settings=self.settings, store=self.store
        )
        stop = asyncio.Event()
        task = asyncio.create_task(
            runner.run(stop, joined=joined, resumed=resumed, on_stop=on_stop), name=f"whycant-watch-{rec.id}"
        )
        run = Running(runner, task, stop)
        self.running[rec.id] = run
        task.add_done_callback(self._forget(rec.id))
        return run

    def _forget(self, watch_id: int) -> Callable[[asyncio.Task], None]:
        def done(_task: asyncio.Task) -> None:
            self.running.pop(watch_id, None)

        return done

    async def watch(
        self,
        text: str,
        *,
        who: str,
        channel: str | None = None,
        default_interval: float = 10.0,
        on_stop: str = "interrupted",
    ) -> tuple[WatchRecord, bool, Running | None]:
        """Start a watch, or join the active one on the same target and port (joined=True)."""
        request, duration, interval = resolve_watch_request(self.svc, text)
        for _ in range(2):
            rec, joined = await self.store.create_or_join(
                request.model_copy(update={"who": who}),
                interval_s=interval or default_interval,
                duration_s=duration or DEFAULT_DURATION,
                who=who,
                channel=channel,
            )
            if not (joined and rec.id not in self.running and await self.resume_once(only=rec.id, on_stop=on_stop)):
                break
            if rec.id in self.running:  # its owner had died: it runs here now
                return rec, True, self.running[rec.id]
            # it had expired and was ended just now: start a fresh one
        if joined:
            return rec, True, self.running.get(rec.id)
        return rec, False, self._start(rec, on_stop=on_stop)

    async def watches(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in await self.store.active()]

    async def unwatch(self, watch_id: int, who: str) -> WatchRecord:
        rec = await self.store.stop(watch_id, who)
        run = self.running.get(watch_id)
        if run is not None:  # ours: end it now (another replica's owner sees it on its next save)
            run.runner.status = "stopped"
            run.stop.set()
        return rec

    async def resume_once(self, only: int | None = None, on_stop: str = "interrupted") -> list[int]:
        """Claim stale watches; run the live ones, end the expired ones with a note. Returns the ids taken."""
        stale_after = self.stale_after
        taken: list[int] = []
        for rec in await self.store.claim_stale(stale_after if stale_after is not None else 30.0, only=only):
            taken.append(rec.id)
            if datetime.now(timezone.utc) >= rec.ends_at:
                await self._end_expired(rec)
            else:
                log.info("watch %s on %s:%s resumed here", rec.id, rec.host, rec.port)
                self._start(rec, resumed=True, on_stop=on_stop)
        return taken

    async def _end_expired(self, rec: WatchRecord) -> None:
        note = (
            f"this watch expired at {rec.ends_at.isoformat(timespec='seconds')} while no replica was running it "
            f"(last heartbeat {(rec.taken_over_from or rec.heartbeat_at).isoformat(timespec='seconds')}); ended on resume"
        )
        body = summary(
            rec.stats.get("buckets") or {},
            rec.episodes,
            capped=int(rec.stats.get("capped") or 0),
            note=note,
            untested=rec.stats.get("untested"),
        )
        ev = events.summary(rec.id, f"{rec.host}:{rec.port}", "expired", body)
        await self.sink_for(rec).summary(ev, None)
        await self.store.finish(rec.id, status="expired", note=note, stats=rec.stats, episodes=rec.episodes)

    async def run_resumer(self, stop: asyncio.Event, every: float | None = None) -> None:
        """Resume dropped watches now and every *every* seconds until *stop*."""
        period = every or max(1.0, (self.stale_after or 30.0) / 2)
        while not stop.is_set():
            try:
                await self.resume_once()
            except Exception:  # noqa: BLE001
                log.exception("watch resume pass failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=period)
            except asyncio.TimeoutError:
                pass

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every running watch (they stay active in the database for a resume) and wait for them."""
        runs = list(self.running.values())
        for r in runs:
            r.stop.set()
        if runs:
            _done, late = await asyncio.wait([r.task for r in runs], timeout=timeout)
            for task in late:  # stuck in a full collection: cut off; taken over once its heartbeat is stale
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2.0)


def settings_for(config: Any) -> WatchSettings:
    w = config.watch
    return WatchSettings(
        counters_s=w.counters_seconds, syn_per_minute=w.syn_per_minute, connect_timeout=config.probe.connect_timeout
    )


def manager_for(svc: Any, sink_for: SinkFactory, *, replica: str | None = None) -> WatchManager:
    """The process's WatchManager from the service's config (``watch:``)."""
    return WatchManager(
        svc,
        sink_for,
        replica=replica or replica_id(),
        settings=settings_for(svc.config),
        stale_after=svc.config.watch.stale_seconds,
    )


def start_watches(svc: Any, client: Any, config: Any, stop: asyncio.Event) -> asyncio.Task | None:
    """For ``whycant serve``: a WatchManager posting to Slack threads, and its resume loop as a task."""
    if svc.store is None:
        log.warning("no database: watches are off")
        return None
    default = getattr(getattr(config, "slack", None), "default_channel", None)
    svc.watch_manager = manager_for(svc, lambda rec: SlackSink(client, rec.channel or default or "", rec.thread_ts))
    return asyncio.create_task(svc.watch_manager.run_resumer(stop), name="whycant-watch-resumer")
