"""One watch's loop: light attempts per interval, counters each minute, full evidence on failure.

Per round (every ``interval_s``, jittered ±10 %): one TCP connect attempt from each chosen vantage,
as many as the target's SYN budget grants. Every ``counters_s`` the target's counters are read over
the pooled SSH connection; a rise of a counter that explains failures is a burst. The first failed
attempt or burst opens an episode and runs the full collection at once (``Whycant.diagnose``: counters
around a burst of attempts, listeners, sysctls, every vantage), stored in the incident; the episode is
posted once, and updated when a clean round ends it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from bot import metrics
from bot.watch import events
from bot.watch.chart import failures_png
from bot.watch.episodes import Episode, EpisodeTracker, counter_burst
from bot.watch.light import attempt_outcome, can_sample, light_settings, sample_counters
from bot.watch.limits import SynBudget
from bot.watch.sinks import WatchSink
from bot.watch.stats import Buckets, record, summary
from bot.watch.store import WatchRecord, WatchStore
from bot.zones.plan import usable_vantages, zones_in_config
from probes.collect import Collector, VantagePoint
from probes.evidence import ConnectResult
from probes.limits import BudgetExceeded

if TYPE_CHECKING:
    from bot.zones.watch_round import WatchZones, ZoneGap

log = logging.getLogger("whycant.watch")


@dataclass(frozen=True)
class WatchSettings:
    counters_s: float = 60.0  # how often the target's counters are sampled
    connect_timeout: float = 2.0  # of one light attempt (never more than the interval)
    jitter: float = 0.1  # ± fraction of the interval
    heartbeat_s: float = 2.0  # the least time between two saves of progress
    syn_per_minute: int = 120


class WatchRunner:
    def __init__(
        self,
        svc: Any,
        rec: WatchRecord,
        sink: WatchSink,
        *,
        budget: SynBudget,
        settings: WatchSettings,
        store: WatchStore | None,
    ):
        self.svc, self.rec, self.sink, self.budget, self.s, self.store = svc, rec, sink, budget, settings, store
        self.vantages: list[VantagePoint] = svc.vantages_for(rec.request)
        self.target = svc.inventory.resolve(rec.host)
        p = svc.collector.s
        light_timeout = min(settings.connect_timeout, rec.interval_s, p.connect_timeout)
        self.light = Collector(svc.transports, light_settings(p, light_timeout))
        self.remote_timeout = light_timeout  # of a runner's attempt (set below when zones are configured)
        self.zones: WatchZones | None = None  # set when a vantage or the target is in another zone
        if zones_in_config(svc.config, svc.inventory.zones):
            # procrastinate (about 1 s to import) is loaded only when zones are configured
            from bot.zones.watch_round import WatchZones, remote_timeout  # noqa: PLC0415

            self.vantages = usable_vantages(self.target, self.vantages, svc.config)
            zones = WatchZones(svc, self.target, self.vantages)
            self.zones = zones if zones.remote else None
            self.remote_timeout = remote_timeout(rec.interval_s, light_timeout)
        self.remote_counters: dict[str, int] | None = None  # the last round's sample of a target in another zone
        self.zone_state: dict[str, str] = {}  # zone -> why it took no part ("ok" when it did)
        self.buckets: Buckets = rec.stats.get("buckets") or {}
        self.capped: int = int(rec.stats.get("capped") or 0)
        self.untested: dict[str, dict] = dict(rec.stats.get("untested") or {})  # vantage -> rounds, last error
        self.tracker = EpisodeTracker([Episode.from_dict(e) for e in rec.episodes])
        self.pending: Episode | None = None  # an episode whose full collection the SYN budget deferred
        self._counters: dict[str, int] | None = None
        self._counters_at = 0.0
        self._saved_at = 0.0
        self._rotate = 0
        self.status = "active"

    # ------------------------------------------------------------------ light probes
    def _untested(self, name: str, why: str) -> None:
        cell = self.untested.setdefault(name, {"rounds": 0, "last_error": None})
        cell["rounds"] += 1
        cell["last_error"] = why[:200]

    def _outcome(self, r: ConnectResult) -> str | None:
        o = attempt_outcome(r)
        if o is None:  # the vantage itself failed: not a failure of the target
            log.info("watch %s: %s could not test: %s", self.rec.id, r.vantage, r.error)
            self._untested(r.vantage, r.error or "no result")
        return o

    async def _attempt(self, v: VantagePoint) -> str | None:
        return self._outcome(await self.light.connect_from(v, self.rec.address, self.rec.port))

    def _counters_due(self) -> bool:
        return time.monotonic() - self._counters_at >= self.s.counters_s

    async def round(self) -> tuple[float, dict[str, str]]:
        """One attempt per vantage the budgets grant: (when the round started, vantage -> outcome).

        SYNs come from the watch budget of the target host (``watch.syn_per_minute``, all ports) and
        from the shared per-target:port limiter every ask and sweep uses (``probes/limits.py``); the
        attempts a zone's runner makes count there too. Vantages of a zone without a live runner are
        not tried (named instead, see ``_zone_gaps``)."""
        at = time.time()
        gaps = await self.zones.missing_runners() if self.zones is not None else {}
        testable = [v for v in self.vantages if self._zone(v) not in gaps]
        for v in self.vantages:
            gap = gaps.get(self._zone(v))
            if gap is not None:
                self._untested(v.name, gap.text)
        n = len(testable)
        granted = self.budget.take(self.rec.address, n)
        order = testable[self._rotate % n :] + testable[: self._rotate % n] if n else []
        self._rotate += granted
        chosen = order[:granted]
        want_remote_counters = (
            self.zones is not None
            and self.zones.target_remote
            and self._counters_due()
            and self.zones.plan.target_zone not in gaps
            and can_sample(self.target)
        )
        self.remote_counters = None
        out: dict[str, str] = {}
        if chosen or want_remote_counters:
            try:
                async with self._shared_budget(len(chosen)):
                    out = await self._attempts(chosen, want_remote_counters, gaps, deadline=at + self.rec.interval_s)
            except BudgetExceeded as e:
                log.info("watch %s: %s", self.rec.id, e)
                chosen = []
        self.capped += n - len(chosen)
        for name, o in out.items():
            record(self.buckets, name, at, o == "ok")
        await self._zone_gaps(gaps)
        return at, out

    def _zone(self, v: VantagePoint) -> str:
        """The vantage's zone ("" without zones)."""
        return self.zones.zone_of.get(v.name, self.zones.own) if self.zones is not None else ""

    async def _attempts(
        self, chosen: list[VantagePoint], remote_counters: bool, gaps: dict[str, ZoneGap], *, deadline: float
    ) -> dict[str, str]:
        """The chosen vantages' attempts: here for the own zone, one job per other zone (and for the counters
        of a target in another zone) due by *deadline* (epoch: the round's end). A zone that answers late or
        refuses is added to *gaps*."""
        zones = self.zones
        here = [v for v in chosen if zones is None or self._zone(v) == zones.own]
        local = asyncio.gather(*(self._attempt(v) for v in here))
        if zones is None:
            return {v.name: o for v, o in zip(here, await local) if o is not None}
        far: dict[str, list[str]] = {}
        for v in chosen:
            if self._zone(v) != zones.own:
                far.setdefault(self._zone(v), []).append(v.name)
        remote = zones.round(
            far,
            self.rec.address,
            self.rec.port,
            timeout=self.remote_timeout,
            counters=remote_counters,
            deadline=deadline,
        )
        got, answers = await asyncio.gather(local, remote)
        out = {v.name: o for v, o in zip(here, got) if o is not None}
        for zone, gap in answers.gaps.items():
            gaps[zone] = gap
            for name in far.get(zone, []):
                self._untested(name, gap.text)
        for name in (n for names in far.values() for n in names):
            c = answers.connect.get(name)
            o = self._outcome(c) if c is not None else None
            if o is not None:
                out[name] = o
        self.remote_counters = answers.counters
        return out

    async def _zone_gaps(self, gaps: dict[str, ZoneGap]) -> None:
        """Post a ``partial`` event when a zone stops (or starts again) taking part in the rounds."""
        if self.zones is None:
            return
        for zone in self.zones.plan.remote_zones:
            gap = gaps.get(zone)
            reason = gap.reason if gap else "ok"
            if self.zone_state.get(zone, "ok") == reason:
                continue
            self.zone_state[zone] = reason
            names = [n for n, z in self.zones.zone_of.items() if z == zone]
            text = gap.text if gap else f"zone {zone} answers again"
            log.info("watch %s: %s", self.rec.id, text)
            await self.sink.note(
                events.partial(self.rec.id, zone, reason, text, names, counters=zone == self.zones.plan.target_zone)
            )

    def _shared_budget(self, syns: int) -> AbstractAsyncContextManager[None]:
        limiter = getattr(self.svc, "limiter", None)
        if limiter is None or syns == 0:
            return nullcontext()
        return limiter.connect_budget(self.target.name, self.rec.port, syns)

    async def sample_counters(self) -> dict[str, int] | None:
        """The target's counters (and conntrack drops): over the pooled connection, or from the round's job
        for a target in another zone; None on failure."""
        if self.zones is not None and self.zones.target_remote:
            return self.remote_counters
        return await sample_counters(self.svc.transports, self.target, self.svc.collector.s)

    async def _burst(self, now: float) -> dict[str, int]:
        if now - self._counters_at < self.s.counters_s:
            return {}
        cur = await self.sample_counters()
        if cur is None and self.zones is not None and self.zones.target_remote:
            return {}  # no answer from the target's zone this round: ask again in the next one
        self._counters_at = now
        prev, self._counters = self._counters, cur or self._counters
        if prev is None or cur is None:
            return {}
        return counter_burst(prev, cur)

    # ------------------------------------------------------------------ full evidence
    async def collect(self, ep: Episode) -> bool:
        """The full collection for *ep*; False when the SYN budget defers it to the next round."""
        per = len(self.vantages) + 1  # + the target itself over loopback
        want = self.svc.collector.s.connect_attempts * per
        if self.budget.left(self.rec.address) < want:
            return False
        self.budget.take(self.rec.address, want)
        # the ask path: the shared limiter and one run per target (a concurrent ask joins this run)
        out = await self.svc.diagnose(
            self.rec.request,
            text=f"watch {self.rec.host}:{self.rec.port} (episode {ep.number})",
            who="watch",
            channel=self.rec.channel,
            thread_ts=self.rec.thread_ts,
        )
        dx, ev = out.diagnosis, out.evidence
        ep.findings = [{"id": f.id, "severity": f.severity, "title": f.title} for f in (dx.findings if dx else [])]
        ep.verdict = dx.verdict if dx else None
        ep.partial = bool(dx.partial) if dx else True
        ep.incident = out.incident.id if out.incident else None
        for c in ev.connect if ev else []:
            if c.vantage != "self" and any(a.outcome != "ok" for a in c.attempts) and c.vantage not in ep.vantages:
                ep.vantages.append(c.vantage)
        if ev and ev.target and ev.target.counters_t1:
            self._counters, self._counters_at = dict(ev.target.counters_t1), time.time()
        return True

    # ------------------------------------------------------------------ the loop
    def _stats(self) -> dict[str, Any]:
        return {"buckets": self.buckets, "capped": self.capped, "untested": self.untested}

    def _episodes(self) -> list[dict]:
        return [e.as_dict() for e in self.tracker.episodes]

    async def _save(self, force: bool = False) -> None:
        if self.store is None or (not force and time.monotonic() - self._saved_at < self.s.heartbeat_s):
            return
        self._saved_at = time.monotonic()
        incident = next((e.incident for e in reversed(self.tracker.episodes) if e.incident), None)
        try:
            status = await self.store.heartbeat(
                self.rec.id, stats=self._stats(), episodes=self._episodes(), incident_id=incident
            )
        except Exception as e:  # noqa: BLE001 - a database hiccup does not stop the watch
            log.warning("watch %s: saving progress failed: %s", self.rec.id, e)
            return
        if status != "active":
            self.status = status

    async def step(self) -> None:
        """One round: attempts, maybe counters, episode changes, full evidence for a new episode."""
        at, outcomes = await self.round()
        burst = await self._burst(time.monotonic())
        for ch in self.tracker.observe(at, outcomes, burst):
            if ch.kind == "started":
                self.pending = ch.episode
            else:
                ep = ch.episode
                if self.pending is ep:  # it ended before the SYN budget allowed its full collection
                    self.pending = None
                    ep.verdict = "ended before the full collection could run (SYN budget used up)"
                    ep.post_ts = await self.sink.episode(events.episode(self.rec.id, ep), None)
                ev = {**events.episode(self.rec.id, ep), **events.recovered(self.rec.id, ep)}
                await self.sink.recovered(ev, ep.post_ts)
        if self.pending is not None and await self.collect(self.pending):
            ep, self.pending = self.pending, None
            ep.post_ts = await self.sink.episode(events.episode(self.rec.id, ep), None)
        await self._save()

    async def run(
        self, stop: asyncio.Event, *, joined: bool = False, resumed: bool = False, on_stop: str = "interrupted"
    ) -> dict[str, Any]:
        """Until the watch ends, *stop* is set or the watch is stopped elsewhere; returns the summary event.

        *on_stop*: "interrupted" (serve shutting down: the watch stays active for a resume) or
        "stopped" (Ctrl-C on the CLI: it ends with its summary)."""
        ts = await self.sink.started(events.started(self.rec.as_dict(), joined=joined, resumed=resumed))
        if ts and self.rec.thread_ts is None and self.store is not None:
            self.rec.thread_ts = ts
            await self.store.set_thread(self.rec.id, self.rec.channel, ts)
        metrics.WATCHES.inc()
        note = None
        try:
            while not stop.is_set() and self.status == "active":
                if datetime.now(timezone.utc) >= self.rec.ends_at:
                    self.status = "ended"
                    break
                started = time.monotonic()
                try:
                    await self.step()
                except Exception:  # noqa: BLE001 - one bad round does not end the watch
                    log.exception("watch %s: round failed", self.rec.id)
                pause = self.rec.interval_s * random.uniform(1 - self.s.jitter, 1 + self.s.jitter)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, pause - (time.monotonic() - started)))
                except asyncio.TimeoutError:
                    pass
            if stop.is_set() and self.status == "active":
                self.status = on_stop
                if on_stop == "interrupted":
                    note = "the bot stopped; another replica or the next start resumes it"
        finally:
            metrics.WATCHES.dec()
        if self.status == "taken":
            return {}
        if self.tracker.current is not None:
            note = (note + "; " if note else "") + f"episode {self.tracker.current.number} was still open at the end"
        return await self.finish(self.status, note)

    async def finish(self, status: str, note: str | None) -> dict[str, Any]:
        body = summary(self.buckets, self._episodes(), capped=self.capped, note=note, untested=self.untested)
        ev = events.summary(self.rec.id, f"{self.rec.host}:{self.rec.port}", status, body)
        if status != "interrupted":
            png = failures_png(self.buckets, title=f"watch {self.rec.id}: {self.rec.host}:{self.rec.port} failures")
            await self.sink.summary(ev, png)
            if self.store is not None:
                await self.store.finish(
                    self.rec.id,
                    status="ended" if status == "ended" else "stopped",
                    note=note,
                    stats=self._stats(),
                    episodes=self._episodes(),
                )
        elif self.store is not None:  # left active: the next start or another replica resumes it at once
            try:
                await self.store.release(self.rec.id, stats=self._stats(), episodes=self._episodes())
            except Exception as e:  # noqa: BLE001 - then it is taken over once its heartbeat is stale
                log.warning("watch %s: could not release it: %s", self.rec.id, e)
        return ev
