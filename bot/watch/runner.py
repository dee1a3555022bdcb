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
from typing import Any

from bot import metrics
from bot.watch import events
from bot.watch.chart import failures_png
from bot.watch.episodes import Episode, EpisodeTracker, counter_burst
from bot.watch.limits import SynBudget
from bot.watch.sinks import WatchSink
from bot.watch.stats import Buckets, record, summary
from bot.watch.store import WatchRecord, WatchStore
from probes.collect import Collector, HostProbe, ProbeSettings, VantagePoint
from probes.evidence import HostEvidence
from probes.limits import BudgetExceeded
from probes.parsers.facts import parse_nf_conntrack_stat

log = logging.getLogger("whycant.watch")

CONNTRACK_STAT = "/proc/net/stat/nf_conntrack"


@dataclass(frozen=True)
class WatchSettings:
    counters_s: float = 60.0  # how often the target's counters are sampled
    connect_timeout: float = 2.0  # of one light attempt (never more than the interval)
    jitter: float = 0.1  # ± fraction of the interval
    heartbeat_s: float = 2.0  # the least time between two saves of progress
    syn_per_minute: int = 120


class WatchRunner:
    def __init__(self, svc: Any, rec: WatchRecord, sink: WatchSink, *, budget: SynBudget,
                 settings: WatchSettings, store: WatchStore | None):
        self.svc, self.rec, self.sink, self.budget, self.s, self.store = svc, rec, sink, budget, settings, store
        self.vantages: list[VantagePoint] = svc.vantages_for(rec.request)
        self.target = svc.inventory.resolve(rec.host)
        p = svc.collector.s
        self.light = Collector(svc.transports, ProbeSettings(
            connect_attempts=1, connect_timeout=min(settings.connect_timeout, rec.interval_s, p.connect_timeout),
            connect_interval=0, command_timeout=p.command_timeout, window_seconds=0))
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
    async def _attempt(self, v: VantagePoint) -> str | None:
        r = await self.light.connect_from(v, self.rec.address, self.rec.port)
        if r.error or not r.attempts:
            log.info("watch %s: %s could not test: %s", self.rec.id, v.name, r.error)
            cell = self.untested.setdefault(v.name, {"rounds": 0, "last_error": None})
            cell["rounds"] += 1
            cell["last_error"] = (r.error or "no result")[:200]
            return None  # the vantage itself failed: not a failure of the target
        return r.attempts[0].outcome

    async def round(self) -> tuple[float, dict[str, str]]:
        """One attempt per vantage the budgets grant: (when the round started, vantage -> outcome).

        SYNs come from the watch budget of the target host (``watch.syn_per_minute``, all ports) and
        from the shared per-target:port limiter every ask and sweep uses (``probes/limits.py``)."""
        at = time.time()
        n = len(self.vantages)
        granted = self.budget.take(self.rec.address, n)
        order = self.vantages[self._rotate % n:] + self.vantages[:self._rotate % n]
        self._rotate += granted
        chosen = order[:granted]
        got: list[str | None] = []
        if chosen:
            try:
                async with self._shared_budget(len(chosen)):
                    got = list(await asyncio.gather(*(self._attempt(v) for v in chosen)))
            except BudgetExceeded as e:
                log.info("watch %s: %s", self.rec.id, e)
                chosen = []
        self.capped += n - len(chosen)
        out = {v.name: o for v, o in zip(chosen, got) if o is not None}
        for name, o in out.items():
            record(self.buckets, name, at, o == "ok")
        return at, out

    def _shared_budget(self, syns: int) -> AbstractAsyncContextManager[None]:
        limiter = getattr(self.svc, "limiter", None)
        if limiter is None:
            return nullcontext()
        return limiter.connect_budget(self.target.name, self.rec.port, syns)

    async def sample_counters(self) -> dict[str, int] | None:
        """The target's counters (and conntrack drops) over the pooled connection; None on failure."""
        if not (self.target.probe_ssh and not self.target.adhoc):
            return None
        t = self.svc.transports.for_host(self.target)
        hp = HostProbe(self.target, t, self.svc.collector.s, HostEvidence(host=self.target.name))
        got = await hp.counters("counters_t0")
        if got is None:
            return None
        try:
            files = await t.read_files(self.target, [CONNTRACK_STAT], timeout=self.svc.collector.s.command_timeout)
            if files.get(CONNTRACK_STAT):
                got.update({f"conntrack.{k}": v for k, v in parse_nf_conntrack_stat(files[CONNTRACK_STAT] or "").items()})
        except Exception as e:  # noqa: BLE001 - conntrack is optional (module not loaded)
            log.debug("watch %s: no conntrack stats: %s", self.rec.id, e)
        return got

    async def _burst(self, now: float) -> dict[str, int]:
        if now - self._counters_at < self.s.counters_s:
            return {}
        self._counters_at = now
        cur = await self.sample_counters()
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
        out = await self.svc.diagnose(self.rec.request, text=f"watch {self.rec.host}:{self.rec.port} (episode "
                                      f"{ep.number})", who="watch", channel=self.rec.channel,
                                      thread_ts=self.rec.thread_ts)
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
            status = await self.store.heartbeat(self.rec.id, stats=self._stats(), episodes=self._episodes(),
                                                incident_id=incident)
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

    async def run(self, stop: asyncio.Event, *, joined: bool = False, resumed: bool = False,
                  on_stop: str = "interrupted") -> dict[str, Any]:
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
                await self.store.finish(self.rec.id, status="ended" if status == "ended" else "stopped", note=note,
                                        stats=self._stats(), episodes=self._episodes())
        elif self.store is not None:  # left active: the next start or another replica resumes it at once
            try:
                await self.store.release(self.rec.id, stats=self._stats(), episodes=self._episodes())
            except Exception as e:  # noqa: BLE001 - then it is taken over once its heartbeat is stale
                log.warning("watch %s: could not release it: %s", self.rec.id, e)
        return ev
