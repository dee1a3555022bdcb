"""SIGTERM/SIGINT in ``serve``: out within the grace period, even while Slack is unreachable; a diagnosis
cut off by the grace period is marked ``interrupted``; HTTP server on 127.0.0.1 in Socket Mode too."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.service.procs import (
    ALERT_TOKEN,
    REPO,
    closed_port,
    free_port,
    serve_config,
    serve_env,
    start_serve,
)

GRACE = 3.0
MARGIN = 5.0  # process exit on a loaded 2-core machine (the shutdown itself is asserted tighter below)
STOPPED = re.compile(r"stopped in ([\d.]+)s")


def shutdown_seconds(output: str) -> float:
    m = STOPPED.search(output)
    assert m, output[-3000:]
    return float(m.group(1))


async def get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            return r.status, await r.json()


@pytest.mark.parametrize(
    "sig,mode",
    [(signal.SIGTERM, "socket"), (signal.SIGINT, "socket"), (signal.SIGTERM, "http")],
    ids=["SIGTERM-socket", "SIGINT-socket", "SIGTERM-http"],
)
async def test_serve_with_slack_unreachable_stops_within_grace(tmp_path, sig, mode):
    dead_slack = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    cfg = serve_config(tmp_path, port=closed_port())
    env = serve_env(dead_slack, SLACK_SIGNING_SECRET="s3cret")
    args = ("--grace", str(GRACE)) + (("--http",) if mode == "http" else ())
    serve = await start_serve(tmp_path, cfg, env, args=args)
    try:
        status, body = await get_json(serve.base + "/readyz")
        if mode == "socket":
            assert status == 503 and body["ready"] is False
            assert "socket mode" in body["checks"]["slack"]
        else:  # HTTP mode: Slack connects to us, nothing to be down
            assert status == 200 and body["ready"] is True
        assert body["checks"]["database"] == "ok"
        status, body = await get_json(serve.base + "/healthz")
        assert status == 200 and body == {"ok": True}
        started = time.monotonic()
        serve.signal(sig)
        code = await serve.wait(GRACE + MARGIN + 5)
        took = time.monotonic() - started
        print(f"stop took {took:.2f}s")
        assert code is not None, f"still running {took:.1f}s after {sig.name}:\n{serve.output()[-3000:]}"
        assert code == 0, serve.output()[-3000:]
        assert took <= GRACE + MARGIN, f"{sig.name}: took {took:.1f}s"
        assert shutdown_seconds(serve.output()) <= GRACE  # nothing was running: no need to wait out the grace
    finally:
        await serve.stop()


async def test_sigterm_cuts_off_a_running_diagnosis_and_marks_it_interrupted(standin, tmp_path):
    port = closed_port()
    cfg = serve_config(tmp_path, port=port, probe={"window_seconds": 60, "connect_attempts": 2, "connect_timeout": 1})
    serve = await start_serve(tmp_path, cfg, serve_env(standin.api_url), args=("--grace", "1"))
    try:
        note = {
            "version": "4",
            "status": "firing",
            "receiver": "dba",
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "Slow", "whycant_target": f"db01:{port}"},
                    "startsAt": "2026-01-01T00:00:00Z",
                    "fingerprint": "f1",
                }
            ],
        }
        async with aiohttp.ClientSession() as s:
            async with s.post(
                serve.base + "/alertmanager", json=note, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
            ) as r:
                assert r.status == 200
                assert (await r.json())["diagnosing"][0]["target"] == f"db01:{port}"
        await standin.wait_call("chat.postMessage", lambda c: "Slow" in c.dump(), timeout=10)
        await _wait_diagnosing(cfg)
        started = time.monotonic()
        serve.signal(signal.SIGTERM)
        code = await serve.wait(15)
        took = time.monotonic() - started
        print(f"stop took {took:.2f}s")
        assert code == 0, serve.output()[-3000:]
        assert took <= 1 + MARGIN, f"took {took:.1f}s with --grace 1 and a 60s window"
        assert 1.0 <= shutdown_seconds(serve.output()) <= 1 + 1.5  # the grace, then cancel and mark
        assert "interrupted" in serve.output()
        assert [c for c in standin.calls_of("chat.postMessage") if c.ok and "stopped before the diagnosis" in c.dump()]
    finally:
        await serve.stop()
    rows = _incidents(cfg)
    assert [r["status"] for r in rows] == ["interrupted"], rows


def _incidents(cfg) -> list[dict]:
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


async def _wait_diagnosing(cfg, timeout: float = 10) -> None:
    """Until the incident row exists (the diagnosis has started and recorded its ask)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _incidents(cfg):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("no incident recorded")
