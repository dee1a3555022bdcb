"""A real Alertmanager fires its webhook at a real ``whycant serve`` (Socket Mode) and the diagnosis
appears in the Slack stand-in's channel: once per alert group, joined to the incident on repeat,
the resolution noted in the thread, unknown targets refused and never probed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from tests.service.procs import REPO, closed_port, serve_config, serve_env, start_alertmanager, start_serve

pytestmark = pytest.mark.slow


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


async def post_alerts(am_base: str, alerts: list[dict]) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(am_base + "/api/v2/alerts", json=alerts) as r:
            assert r.status == 200, await r.text()


async def metric(base: str, name: str, **labels: str) -> float:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/metrics") as r:
            text = await r.text()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")):
            head, _, value = line.rpartition(" ")
            got = head[len(name) :].strip("{}")
            if all(part in got.split(",") for part in want.split(",") if part):
                return float(value)
    return 0.0


def roots(standin, channel: str) -> list:
    return [
        c
        for c in standin.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == channel and not c.args.get("thread_ts")
    ]


def in_thread(standin, thread_ts: str) -> list:
    return [
        c
        for c in standin.calls
        if c.method in ("chat.postMessage", "chat.update") and c.ok and (c.args.get("thread_ts") == thread_ts)
    ]


def incidents(cfg) -> list[dict]:
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "incidents", "list", "--json", "--config", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    return data["incidents"] if isinstance(data, dict) else data


async def test_alertmanager_to_slack_once_per_group_joined_on_repeat(standin, tmp_path):
    port = closed_port()
    cfg = serve_config(tmp_path, port=port)
    serve = await start_serve(tmp_path, cfg, serve_env(standin.api_url))
    am = None
    try:
        am = await start_alertmanager(tmp_path, serve.base + "/alertmanager")
        now = datetime.now(timezone.utc)
        group = [  # one group (alertname), two alerts about the same target, one about an unknown host
            {
                "labels": {"alertname": "PostgresDown", "whycant_target": f"db01:{port}", "severity": "critical"},
                "annotations": {"summary": "postgres on db01 is down"},
                "startsAt": _iso(now),
            },
            {"labels": {"alertname": "PostgresDown", "instance": f"db01:{port}", "job": "pg"}, "startsAt": _iso(now)},
            {
                "labels": {"alertname": "PostgresDown", "whycant_target": "nosuch.example.invalid:5432"},
                "startsAt": _iso(now),
            },
        ]
        await post_alerts(am.base, group)
        root = await standin.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.ok
                and c.args.get("channel") == "C0DBA"
                and "PostgresDown" in c.dump()
                and not c.args.get("thread_ts")
            ),
            timeout=30,
            what="alert root message",
        )
        reply = await standin.wait_for(
            lambda c: (
                c.method == "chat.postMessage" and c.ok and c.args.get("thread_ts") and "port-not-listening" in c.dump()
            ),
            timeout=30,
            what="diagnosis in the alert thread",
        )
        thread = reply.args["thread_ts"]
        assert f"db01:{port}" in root.dump()

        # Alertmanager repeats the group (repeat_interval 3s): no second diagnosis
        deadline = time.monotonic() + 20
        while await metric(serve.base, "whycant_alerts_total", status="firing", outcome="duplicate") < 2:
            assert time.monotonic() < deadline, serve.output()[-3000:]
            await asyncio.sleep(0.5)
        assert len(roots(standin, "C0DBA")) == 1
        assert len([c for c in in_thread(standin, thread) if "port-not-listening" in c.dump()]) == 1
        assert await metric(serve.base, "whycant_alerts_total", status="firing", outcome="refused") >= 1
        assert "nosuch" not in json.dumps([c.args for c in standin.calls])  # refused, never posted or probed
        assert "nosuch.example.invalid" in serve.output()  # ...but logged with the reason

        # a new alert (another group) about the same target: its diagnosis joins the open incident, same thread
        await post_alerts(
            am.base,
            [
                {
                    "labels": {"alertname": "PostgresConnRefused", "whycant_target": f"db01:{port}"},
                    "startsAt": _iso(datetime.now(timezone.utc)),
                }
            ],
        )
        again = await standin.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.ok
                and c.args.get("thread_ts") == thread
                and "joined the open incident" in c.dump()
            ),
            timeout=30,
            what="joined diagnosis in the same thread",
        )
        assert "port-not-listening" in again.dump()
        assert len(roots(standin, "C0DBA")) == 1
        rows = [i for i in incidents(cfg) if i.get("port") == port]
        assert len(rows) == 1, rows

        # resolved: noted in the thread
        await post_alerts(am.base, [{**group[0], "endsAt": _iso(datetime.now(timezone.utc) - timedelta(seconds=1))}])
        await standin.wait_for(
            lambda c: (
                c.method == "chat.postMessage"
                and c.ok
                and c.args.get("thread_ts") == thread
                and "resolved" in c.dump()
                and "PostgresDown" in c.dump()
            ),
            timeout=30,
            what="resolved note in the thread",
        )
        assert standin.violations == []
    finally:
        if am is not None:
            await am.stop()
        assert await serve.stop() == 0, serve.output()[-3000:]
