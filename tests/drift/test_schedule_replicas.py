"""Two real `whycant serve` processes on one PostgreSQL database post each scheduled drift
report exactly once (through the Slack stand-in), and a report due while both were stopped
is posted once, marked late, after they start again.

The schedule is every 10 seconds (croniter's seconds field) so several runs fit in half a minute;
the claim mechanism is the same as for a weekly report.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.pg import throwaway_database
from tests.slack import standin as si

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CHANNEL = "C0REPORTS"


@pytest.fixture
async def pg_url():
    async with throwaway_database("whycant_replicas") as url:
        yield url


@pytest.fixture
async def standin():
    s = await si.StandIn().start()
    yield s
    await s.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    def __init__(self, cfg: Path, standin, log: Path):
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(
            SLACK_BOT_TOKEN=si.BOT_TOKEN,
            SLACK_SIGNING_SECRET=si.SIGNING_SECRET,
            SLACK_API_URL=standin.api_url,
            PYTHONUNBUFFERED="1",
        )
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "serve",
                    "--http",
                    str(self.port),
                    "--host",
                    "127.0.0.1",
                    "--config",
                    str(cfg),
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with s.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"serve did not come up:\n{self.log.read_text()}")

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 5)


def _summaries(standin) -> list:
    """Top-level report messages in the report channel (details go in their threads)."""
    return [
        c
        for c in standin.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")
    ]


async def _report_runs(url: str) -> list[tuple]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT scheduled_for, claimed_by, posted_at, late FROM report_runs ORDER BY 1")
    finally:
        await conn.close()
    return [tuple(r) for r in rows]


async def _wait_until_second(mod: int, at: float) -> None:
    """Sleep until wall-clock seconds % mod == at (to start between two 10-second runs)."""
    now = time.time()
    delta = (at - now % mod) % mod
    await asyncio.sleep(delta)


async def test_two_replicas_post_each_run_once_and_a_missed_run_once_late(pg_url, standin, tmp_path):
    cfg = tmp_path / "whycant.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": pg_url,
                "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local", "groups": ["bots"]}},
                "reports": [
                    {"name": "every-10s", "cron": "* * * * * */10", "channel": CHANNEL, "hosts": ["localhost"]}
                ],
            }
        )
    )
    await _wait_until_second(10, 1.0)  # start just after a run is due, so the first claimed run is the next one
    replicas = [Replica(cfg, standin, tmp_path / f"r{i}.log") for i in range(2)]
    await asyncio.gather(*(r.ready() for r in replicas))
    t_start = time.time()
    await asyncio.sleep(32)  # three runs are due in this span (every 10 s)
    await asyncio.gather(*(r.stop() for r in replicas))
    posts = _summaries(standin)
    runs = await _report_runs(pg_url)
    due = [t for t in range(int(t_start) + 1, int(time.time()) + 1) if t % 10 == 0]
    assert len(due) >= 3
    assert len(runs) == len(posts), (runs, [p.args.get("text") for p in posts])  # one post per claimed run
    assert len({r[0] for r in runs}) == len(runs)
    assert len(runs) >= len(due) - 1  # a run due during shutdown may be skipped, never doubled
    import socket

    assert {r[1] for r in runs} <= {f"{socket.gethostname()}:{p.proc.pid}" for p in replicas}  # claimed by them
    assert not any("late" in (p.args.get("text") or "") for p in posts)
    threads = {
        c.args.get("thread_ts")
        for c in standin.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == CHANNEL and c.args.get("thread_ts")
    }
    assert len(threads) == len(posts)  # each summary got its details in its own thread

    # Both replicas down while two runs fall due; after the restart exactly one late post.
    await asyncio.sleep(21)  # at least two runs fall due while both are down
    before = len(_summaries(standin))
    replicas = [Replica(cfg, standin, tmp_path / f"r{i}b.log") for i in range(2)]
    try:
        await asyncio.gather(*(r.ready() for r in replicas))
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(_summaries(standin)) == before:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # would a second replica post it again?
        new = _summaries(standin)[before:]
        late = [p for p in new if "late" in (p.args.get("text") or "")]
        assert len(late) == 1, [p.args.get("text") for p in new]
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))
    assert standin.violations == []
