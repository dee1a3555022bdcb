"""A watch round's job on the runner's side (in-process, loopback): one attempt per vantage bounded by the
deadline, the target's counters when asked, late and foreign-host jobs refused."""

from __future__ import annotations

import time

import pytest

from bot.config import parse_config
from bot.zone_runner import JobLate, JobRefused, ZoneRunner
from bot.zones.watch_round import remote_timeout
from tests.watch.test_resume import listener  # noqa: F401 - the loopback listener fixture

PROBE = {"window_seconds": 0.3, "connect_attempts": 5, "connect_timeout": 2, "connect_interval": 0.05}


def runner() -> ZoneRunner:
    cfg = parse_config(
        {
            "probe": PROBE,
            "zones": {"own": "far"},
            "hosts": {"far1": {"address": "127.0.0.1", "transport": "local"}},
            "vantages": {"farv": {"host": "far1"}},
        },
        source="test",
    )
    return ZoneRunner(cfg, "far", name="far-test")


async def test_watch_job_one_attempt_per_vantage_and_the_counters(listener):
    r = runner()
    try:
        payload = {"vantages": ["farv"], "address": "127.0.0.1", "port": listener, "timeout": 0.6, "counters": "far1"}
        t0 = time.monotonic()
        got = await r.run("watch", payload, time.time() + 1.0)
        took = time.monotonic() - t0
    finally:
        await r.transports.close()
    (c,) = got["connect"]
    assert c["vantage"] == "farv" and [a["outcome"] for a in c["attempts"]] == ["ok"]  # one attempt, not 5
    assert "TcpExt.ListenOverflows" in got["counters"] and took < 1.0


async def test_watch_job_attempt_is_bounded_by_the_deadline():
    r = runner()
    try:
        # a closed port: refused at once; the same job with too little time left before its deadline is late
        payload = {"vantages": ["farv"], "address": "127.0.0.1", "port": 9, "timeout": 0.6, "counters": None}
        got = await r.run("watch", payload, time.time() + 1.0)
        assert got["connect"][0]["attempts"][0]["outcome"] == "refused" and got["counters"] is None
        with pytest.raises(JobLate):
            await r.run("watch", payload, time.time() + 0.2)  # less than the answer margin left
        with pytest.raises(JobRefused, match="'db9' is not in runner far-test's inventory"):
            await r.run("watch", {**payload, "counters": "db9"}, time.time() + 1.0)
        with pytest.raises(JobRefused, match="vantage"):
            await r.run("watch", {**payload, "vantages": [None]}, time.time() + 1.0)
    finally:
        await r.transports.close()


def test_remote_timeout_leaves_room_in_the_round():
    assert remote_timeout(1.0, 1.0) == pytest.approx(0.6)
    assert remote_timeout(10.0, 2.0) == 2.0
    assert remote_timeout(0.1, 2.0) == 0.1
