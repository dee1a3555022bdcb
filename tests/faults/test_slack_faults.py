"""Slack faults (issue 11 point 4) through the Slack stand-in over real HTTP and WebSockets, with the REAL
core service (local transport, SQLite in tmp_path): error bodies that are not JSON (an HTML 500 page, an
empty body, truncated JSON) are retried by slack_sdk's handlers and then logged, never raised in the reply
path; the diagnosis is stored whatever Slack does; progress updates never hold up the probes.

Before: a persistent 500 with a non-JSON body raised inside the reply path: no reply, the diagnosis was
never stored.
"""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bot.config import parse_config
from bot.service import Whycant
from bot.slack.app import build_app
from bot.slack.socket import SocketRunner
from tests.slack import standin as si
from tests.slack.conftest import standin  # noqa: F401  (fixture)

OPS = "C0OPS"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def real_bot(standin, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    cfg = parse_config({
        "database": f"sqlite:///{tmp_path}/w.db", "spool_dir": str(tmp_path / "spool"),
        "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
        "probe": {"window_seconds": 0.5, "connect_attempts": 3, "connect_timeout": 1},
    }, source=str(tmp_path / "whycant.yaml"))
    svc = await Whycant.create(cfg)
    app = build_app(svc, cfg, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.0)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    await standin.wait_sockets(1)
    try:
        yield app, svc
    finally:
        await app.whycant.drain(20)
        await runner.close()
        await svc.close()


async def _incidents(svc):
    return await svc.store.list_incidents()


@pytest.mark.parametrize("body", ["500:html", "500:empty", "502:html", "200:html", "500:json-garbage"])
async def test_persistent_error_bodies_never_lose_the_diagnosis(real_bot, standin, body, caplog):  # noqa: F811
    app, svc = real_bot
    for method in ("chat.postMessage", "chat.update", "reactions.add"):
        standin.fail(method, body, times=100)  # persistent: every try, every retry
    port = closed_port()
    await standin.envelope("events_api", standin.mention(f"localhost:{port}", channel=OPS))
    deadline = time.monotonic() + 30
    while not await _incidents(svc):
        assert time.monotonic() < deadline, "the diagnosis was never stored"
        await asyncio.sleep(0.2)
    await app.whycant.drain(30)
    [inc] = await _incidents(svc)
    assert inc["host"] == "localhost" and inc["port"] == port
    detail = await svc.store.get(inc["id"])
    assert [f["id"] for f in detail["findings"]] == ["port-not-listening"]
    assert detail["evidence"], "evidence stored"
    # every post was tried (with slack_sdk's retries for 5xx), failed cleanly, and said so in the log
    posts = standin.calls_of("chat.postMessage")
    assert posts and all(not c.ok for c in posts)
    assert not any("slack handler failed" in r.getMessage() for r in caplog.records), "exception in the reply path"
    assert any(r.name == "whycant.slack" and "chat.postMessage failed" in r.getMessage() for r in caplog.records)
    if body.startswith("5"):
        assert len(posts) >= 2, "5xx not retried"
    assert standin.violations == []


async def test_a_transient_html_500_is_retried_and_the_reply_arrives(real_bot, standin):  # noqa: F811
    app, svc = real_bot
    standin.fail("chat.postMessage", "500:html", times=1)
    port = closed_port()
    await standin.envelope("events_api", standin.mention(f"localhost:{port}", channel=OPS))
    reply = await standin.wait_for(lambda c: c.method in ("chat.postMessage", "chat.update") and c.ok
                                   and "port-not-listening" in c.dump(), timeout=30, what="the reply")
    assert reply.ok
    assert standin.calls_of("chat.postMessage")[0].status == 500  # the first try failed, the retry went through


async def test_slow_slack_does_not_delay_the_probes(real_bot, standin, monkeypatch):  # noqa: F811
    """Every post takes 2 s at Slack: the diagnosis (probes + rules) still finishes in about its
    window; only the reply waits for Slack."""
    app, svc = real_bot
    standin.delays.update({"chat.postMessage": 2.0, "chat.update": 2.0, "reactions.add": 2.0})
    port = closed_port()
    handled = asyncio.Event()
    real_handle = svc.handle
    t0 = time.monotonic()

    async def timed_handle(*a, **kw):
        out = await real_handle(*a, **kw)
        handled.set()
        return out

    monkeypatch.setattr(svc, "handle", timed_handle)
    await standin.envelope("events_api", standin.mention(f"localhost:{port}", channel=OPS))
    await asyncio.wait_for(handled.wait(), 30)
    took = time.monotonic() - t0
    assert took < 0.5 + 1.2, f"the diagnosis took {took:.1f} s behind a slow Slack"
    # and the reply still arrives, replacing the progress message
    await standin.wait_for(lambda c: c.method in ("chat.postMessage", "chat.update") and c.ok
                           and "port-not-listening" in c.dump(), timeout=30, what="the reply")
