"""Scheduled reports: exactly once across two scheduler instances on one database, and the late run.

Both backends: a SQLite file, and PostgreSQL at 127.0.0.1:5432 (a throwaway database, dropped
afterwards; skipped with the reason when PostgreSQL is not reachable).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from bot.drift.schedule import ReportScheduler, next_due, previous_due
from bot.drift.store import DriftStore
from tests.pg import throwaway_database


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def entry(**kw):
    base = {
        "name": "minutely",
        "cron": "* * * * *",
        "channel": "#infra",
        "hosts": ["all"],
        "timezone": "UTC",
        "skip_if_unchanged": False,
    }
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sched.db"
        return
    async with throwaway_database("whycant_drift_test") as url:
        yield url


async def _open(url: str):
    from bot.storage.db import Database

    db = Database(url)
    await db.upgrade()
    return db


def test_cron_in_the_entrys_time_zone():
    e = entry(cron="0 9 * * MON", timezone="Europe/Paris")
    now = datetime(2025, 3, 12, 12, 0, tzinfo=timezone.utc)  # a Wednesday
    assert previous_due(e, now) == datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)  # 09:00 CET
    summer = datetime(2025, 7, 9, 12, 0, tzinfo=timezone.utc)
    assert previous_due(e, summer) == datetime(2025, 7, 7, 7, 0, tzinfo=timezone.utc)  # 09:00 CEST
    assert next_due(e, now) == datetime(2025, 3, 17, 8, 0, tzinfo=timezone.utc)
    on_the_dot = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
    assert previous_due(e, on_the_dot) == on_the_dot


async def test_two_replicas_post_each_minute_exactly_once(db_url):
    db_a, db_b = await _open(db_url), await _open(db_url)  # two processes' worth of engines
    try:
        posts: list[tuple[str, datetime, bool]] = []
        t0 = datetime(2025, 11, 24, 9, 0, 0, tzinfo=timezone.utc)
        clock = Clock(t0 - timedelta(seconds=30))

        async def run_report(e):
            await asyncio.sleep(0.01)
            return {"hosts": 1, "drifts": [], "errors": []}

        def poster(replica):
            async def post(e, report, late, due):
                posts.append((replica, due, late))

            return post

        a = ReportScheduler([entry()], DriftStore(db_a), run_report, poster("a"), replica="a", clock=clock)
        b = ReportScheduler([entry()], DriftStore(db_b), run_report, poster("b"), replica="b", clock=clock)
        await asyncio.gather(a.tick(), b.tick())  # start-up at 08:59:30: nothing ran before, nothing posted
        assert posts == []
        for minute in range(5):
            for sec in (0.2, 1.0, 20.0, 40.0):  # both replicas wake up several times a minute
                clock.t = t0 + timedelta(minutes=minute, seconds=sec)
                await asyncio.gather(a.tick(), b.tick())
        dues = [d for _, d, _ in posts]
        assert dues == [t0 + timedelta(minutes=m) for m in range(5)], posts
        assert not any(late for _, _, late in posts)
        runs = await DriftStore(db_a).report_runs("minutely")
        assert len(runs) == 5 and all(r["posted_at"] is not None for r in runs)
        assert {r["claimed_by"] for r in runs} <= {"a", "b"}

        # both stop at 09:04:40; 09:05, 09:06 and 09:07 pass with nobody running; they start at 09:07:30
        restart = t0 + timedelta(minutes=7, seconds=30)
        clock.t = restart
        a2 = ReportScheduler([entry()], DriftStore(db_a), run_report, poster("a2"), replica="a2", clock=clock)
        b2 = ReportScheduler([entry()], DriftStore(db_b), run_report, poster("b2"), replica="b2", clock=clock)
        await asyncio.gather(a2.tick(), b2.tick())
        clock.t = restart + timedelta(seconds=5)
        await asyncio.gather(a2.tick(), b2.tick())
        late = posts[5:]
        assert len(late) == 1, late  # once, not once per missed minute
        assert late[0][1] == t0 + timedelta(minutes=7) and late[0][2] is True
        clock.t = t0 + timedelta(minutes=8, seconds=0.5)
        await asyncio.gather(a2.tick(), b2.tick())
        assert posts[6][1] == t0 + timedelta(minutes=8) and posts[6][2] is False and len(posts) == 7
        runs = await DriftStore(db_a).report_runs("minutely")
        assert [r["late"] for r in runs] == [False] * 5 + [True, False]
    finally:
        await db_a.dispose()
        await db_b.dispose()


async def test_real_loops_race_for_real_minutes_sqlite(tmp_path):
    """Two ``run()`` loops on real time with a per-second cron-like schedule stand-in."""
    db_a, db_b = await _open(f"sqlite:///{tmp_path}/race.db"), await _open(f"sqlite:///{tmp_path}/race.db")
    posts = []

    async def run_report(e):
        return {"hosts": 0, "drifts": [], "errors": []}

    async def post(e, report, late, due):
        posts.append(due)

    # croniter supports a seconds field: "* * * * * */1" = every second
    e = entry(cron="* * * * * */1")
    stop = asyncio.Event()
    a = ReportScheduler([e], DriftStore(db_a), run_report, post, replica="a", max_sleep=0.3)
    b = ReportScheduler([e], DriftStore(db_b), run_report, post, replica="b", max_sleep=0.3)
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    await asyncio.sleep(3.2)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    await db_a.dispose()
    await db_b.dispose()
    assert len(posts) >= 2 and len(posts) == len(set(posts)), posts


async def test_new_report_does_not_post_the_past_and_failures_are_recorded(tmp_path):
    db = await _open(f"sqlite:///{tmp_path}/x.db")
    try:
        t0 = datetime(2025, 11, 24, 9, 0, 30, tzinfo=timezone.utc)
        clock = Clock(t0)
        posted = []

        async def boom(e):
            raise RuntimeError("collection exploded")

        async def post(e, report, late, due):
            posted.append(due)

        s = ReportScheduler(
            [entry(name="weekly", cron="0 9 * * MON")], DriftStore(db), boom, post, replica="a", clock=clock
        )
        assert await s.tick() == []  # 09:00 Monday was due before this replica (and any run) existed
        clock.t = t0 + timedelta(days=7, seconds=-29)
        out = await s.tick()
        assert out[0].claimed and out[0].error and "exploded" in out[0].error and not posted
        runs = await DriftStore(db).report_runs("weekly")
        assert len(runs) == 1 and "exploded" in runs[0]["error"] and runs[0]["posted_at"] is None
        assert await s.tick() == []  # not retried
    finally:
        await db.dispose()


async def test_skip_if_unchanged(tmp_path):
    db = await _open(f"sqlite:///{tmp_path}/x.db")
    try:
        clock = Clock(datetime(2025, 11, 24, 9, 0, 0, 500000, tzinfo=timezone.utc))
        posted = []
        reports = iter(
            [
                {"hosts": 1, "drifts": [{"kind": "baseline"}], "errors": []},
                {"hosts": 1, "drifts": [{"kind": "changed"}], "errors": []},
            ]
        )

        async def run_report(e):
            return next(reports)

        async def post(e, report, late, due):
            posted.append(report)

        s = ReportScheduler(
            [entry(skip_if_unchanged=True)],
            DriftStore(db),
            run_report,
            post,
            replica="a",
            clock=clock,
            started_at=clock.t - timedelta(minutes=5),
        )
        out = await s.tick()
        assert out[0].skipped == "nothing changed" and posted == []
        clock.t += timedelta(minutes=1)
        await s.tick()
        assert len(posted) == 1
    finally:
        await db.dispose()
