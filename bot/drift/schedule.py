"""Scheduled drift reports (config ``reports:``), posted exactly once across replicas.

* Times come from croniter, in each entry's ``timezone`` (DST handled by croniter + zoneinfo).
* Each occurrence is claimed by inserting the unique ``report_runs (name, scheduled_for)`` row:
  of several replicas sharing the database exactly one insert wins and posts.
* Only the *latest* due occurrence is ever considered, so a run missed while every replica
  was down is posted once, marked late, after the first replica starts again — not once per
  missed occurrence. A report that never ran before (new entry, fresh database) does not post
  a past occurrence at start-up; it starts with the next one.
* A claimed run that fails records its error on the row and is not retried (exactly once,
  not at least once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Sequence
from zoneinfo import ZoneInfo

from croniter import croniter

from bot.drift.report import run_drift
from bot.drift.store import DriftStore

log = logging.getLogger("whycant.drift.schedule")

RunReport = Callable[[Any], Awaitable[dict]]  # (report entry) -> drift report dict
PostReport = Callable[[Any, dict, bool, datetime], Awaitable[Any]]  # (entry, report, late, scheduled_for)


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def entry_timezone(entry: Any) -> ZoneInfo:
    """The time zone a report entry is scheduled in (UTC unless it says)."""
    return ZoneInfo(getattr(entry, "timezone", None) or "UTC")


def previous_due(entry: Any, now: datetime) -> datetime:
    """The latest occurrence at or before *now* (UTC-aware)."""
    local = now.astimezone(entry_timezone(entry)) + timedelta(microseconds=1)
    return croniter(entry.cron, local).get_prev(datetime).astimezone(timezone.utc)


def next_due(entry: Any, now: datetime) -> datetime:
    local = now.astimezone(entry_timezone(entry))
    return croniter(entry.cron, local).get_next(datetime).astimezone(timezone.utc)


@dataclass
class RunOutcome:
    name: str
    scheduled_for: datetime
    claimed: bool
    late: bool = False
    posted: bool = False
    skipped: str | None = None
    error: str | None = None


class ReportScheduler:
    """Runs ``reports:`` entries; ``tick()`` is one pass, ``run(stop)`` loops until *stop* is set."""

    def __init__(
        self,
        reports: Sequence[Any],
        store: Any,
        run_report: RunReport,
        post: PostReport,
        *,
        replica: str | None = None,
        clock: Callable[[], datetime] | None = None,
        late_after: float = 60.0,
        max_sleep: float = 30.0,
        started_at: datetime | None = None,
    ):
        self.reports = list(reports)
        self.store = store
        self.run_report = run_report
        self.post = post
        self.replica = replica or replica_id()
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.late_after = late_after
        self.max_sleep = max_sleep
        self.started_at = started_at or self.clock()
        self._seen: set[tuple[str, datetime]] = set()

    async def tick(self) -> list[RunOutcome]:
        now = self.clock()
        out: list[RunOutcome] = []
        for entry in self.reports:
            try:
                o = await self._consider(entry, now)
            except Exception as e:  # noqa: BLE001 - one entry never stops the others
                log.exception("report %s: scheduling failed", entry.name)
                o = RunOutcome(entry.name, now, claimed=False, error=f"{type(e).__name__}: {e}")
            if o is not None:
                out.append(o)
        return out

    async def _consider(self, entry: Any, now: datetime) -> RunOutcome | None:
        due = previous_due(entry, now)
        key = (entry.name, due)
        if key in self._seen:
            return None
        missed = due < self.started_at  # due while this replica was not running
        if missed:
            last = await self.store.last_report_run(entry.name)
            if last is None or last >= due:
                # never ran before (new entry or database): start with the next occurrence;
                # or already claimed by someone
                self._seen.add(key)
                return None
        late = missed or (now - due).total_seconds() > self.late_after
        claimed = await self.store.claim_report_run(entry.name, due, self.replica, late=late)
        self._seen.add(key)
        outcome = RunOutcome(entry.name, due, claimed=claimed, late=late)
        if not claimed:
            return outcome
        log.info(
            "report %s due %s claimed by %s%s", entry.name, due.isoformat(), self.replica, " (late)" if late else ""
        )
        try:
            report = await self.run_report(entry)
            if getattr(entry, "skip_if_unchanged", False) and not any(
                d.get("kind") == "changed" for d in report.get("drifts", [])
            ):
                outcome.skipped = "nothing changed"
                await self.store.finish_report_run(entry.name, due, posted=False, error="skipped: nothing changed")
                return outcome
            await self.post(entry, report, late, due)
            outcome.posted = True
            await self.store.finish_report_run(entry.name, due, posted=True)
        except Exception as e:  # noqa: BLE001
            log.exception("report %s due %s failed", entry.name, due.isoformat())
            outcome.error = f"{type(e).__name__}: {e}"
            try:
                await self.store.finish_report_run(entry.name, due, posted=False, error=outcome.error[:2000])
            except Exception:  # noqa: BLE001
                log.warning("report %s: could not record the failure", entry.name, exc_info=True)
        return outcome

    def seconds_until_next(self) -> float:
        now = self.clock()
        if not self.reports:
            return self.max_sleep
        soonest = min(next_due(e, now) for e in self.reports)
        return max(0.05, min(self.max_sleep, (soonest - now).total_seconds() + 0.05))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001
                log.exception("report scheduler tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.seconds_until_next())
            except asyncio.TimeoutError:
                pass


# ------------------------------------------------------------------------------ wiring helpers


def scheduler_for_service(svc: Any, post: PostReport, **kw: Any) -> ReportScheduler | None:
    """A scheduler for ``svc.config.reports`` (None without reports or without a database)."""
    reports = list(getattr(svc.config, "reports", []) or [])
    store = DriftStore.for_service(svc)
    if not reports or store is None:
        if reports:
            log.warning("reports are configured but there is no database: scheduled reports are off")
        return None

    async def run_report(entry: Any) -> dict:
        return await run_drift(svc, entry.hosts)

    return ReportScheduler(reports, store, run_report, post, **kw)


def start_scheduler(svc: Any, post: PostReport, stop: asyncio.Event | None = None) -> asyncio.Task | None:
    """For ``whycant serve``: start the report loop as a task (None when nothing is scheduled).

    *post* delivers one report (``bot.slack.post.report_poster(client)`` in production): the
    scheduler knows nothing of Slack."""
    sched = scheduler_for_service(svc, post)
    if sched is None:
        return None
    return asyncio.create_task(sched.run(stop), name="whycant-report-scheduler")
