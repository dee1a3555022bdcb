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
from bot.slack.http import start_http
from bot.slack.socket import SocketRunner
from tests.slack import standin as si
from tests.slack.conftest import standin  # noqa: F401  (fixture)

OPS = "C0OPS"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg(tmp_path):
    return parse_config(
        {
            "database": f"sqlite:///{tmp_path}/w.db",
            "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
            "probe": {"window_seconds": 0.5, "connect_attempts": 3, "connect_timeout": 1},
        },
        source=str(tmp_path / "whycant.yaml"),
    )


@pytest.fixture
async def real_bot(standin, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    cfg = _cfg(tmp_path)
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
    assert inc.host == "localhost" and inc.port == port
    detail = await svc.store.get(inc.id)
    assert [f["id"] for f in detail.findings] == ["port-not-listening"]
    assert detail.evidence, "evidence stored"
    # every post was tried (with slack_sdk's retries for 5xx), failed cleanly, and said so in the log
    posts = standin.calls_of("chat.postMessage")
    assert posts and all(not c.ok for c in posts)
    assert not any("slack handler failed" in r.getMessage() for r in caplog.records), "exception in the reply path"
    assert any(r.name == "whycant.slack" and "chat.postMessage failed" in r.getMessage() for r in caplog.records)
    if body.startswith("5"):
        assert len(posts) >= 2, "5xx not retried"
    assert standin.violations == []


async def test_a_transient_html_500_is_retried_and_the_reply_arrives(real_bot, standin):  # noqa: F811
    standin.fail("chat.postMessage", "500:html", times=1)
    port = closed_port()
    await standin.envelope("events_api", standin.mention(f"localhost:{port}", channel=OPS))
    reply = await standin.wait_for(
        lambda c: c.method in ("chat.postMessage", "chat.update") and c.ok and "port-not-listening" in c.dump(),
        timeout=30,
        what="the reply",
    )
    assert reply.ok
    assert standin.calls_of("chat.postMessage")[0].status == 500  # the first try failed, the retry went through


async def test_slow_slack_does_not_delay_the_probes(real_bot, standin, monkeypatch):  # noqa: F811
    """Every post takes 2 s at Slack: the diagnosis (probes + rules) still finishes in about its
    window; only the reply waits for Slack."""
    _, svc = real_bot
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
    await standin.wait_for(
        lambda c: c.method in ("chat.postMessage", "chat.update") and c.ok and "port-not-listening" in c.dump(),
        timeout=30,
        what="the reply",
    )


@pytest.fixture
async def real_http_bot(standin, tmp_path):  # noqa: F811
    cfg = _cfg(tmp_path)
    svc = await Whycant.create(cfg)
    app = build_app(
        svc, cfg, token=si.BOT_TOKEN, signing_secret=si.SIGNING_SECRET, base_url=standin.api_url, progress_interval=0.0
    )
    runner, port = await start_http(app, 0, host="127.0.0.1")
    try:
        yield app, svc, f"http://127.0.0.1:{port}/slack/events"
    finally:
        await app.whycant.drain(20)
        await runner.cleanup()
        await svc.close()


async def test_replayed_signed_slash_command_is_handled_once(real_http_bot, standin):  # noqa: F811
    """The same signed request (same body, timestamp, signature) posted again inside the 5-minute window."""
    app, svc, url = real_http_bot
    port = closed_port()
    payload = standin.slash(f"localhost:{port}")
    ts = int(time.time())
    for _ in range(3):
        status, _, _ = await standin.deliver_http(url, "command", payload, timestamp=ts)
        assert status == 200
    await app.whycant.drain(30)
    echoes = [c for c in standin.calls_of("chat.postMessage") if "asked:" in str(c.args.get("text"))]
    assert len(echoes) == 1
    [inc] = await _incidents(svc)
    assert inc.asked_count == 1
    # a new invocation (new trigger) of the same command is a new ask
    status, _, _ = await standin.deliver_http(url, "command", standin.slash(f"localhost:{port}"))
    await app.whycant.drain(30)
    assert (await _incidents(svc))[0].asked_count == 2


async def test_replayed_button_is_handled_once(real_http_bot, standin):  # noqa: F811
    app, svc, url = real_http_bot
    port = closed_port()
    await standin.deliver_http(url, "command", standin.slash(f"localhost:{port}"))
    await app.whycant.drain(30)
    [inc] = await _incidents(svc)
    click = standin.button("rerun", str(inc.id))
    ts = int(time.time())
    for _ in range(2):
        status, _, _ = await standin.deliver_http(url, "interactive", click, timestamp=ts)
        assert status == 200
    await app.whycant.drain(30)
    detail = await svc.store.get(inc.id)
    assert [a["action"] for a in detail.audit].count("rerun") == 1
    assert len(detail.evidence) == 2  # the ask and one re-run


async def test_redelivered_socket_mode_command_is_handled_once(real_bot, standin):  # noqa: F811
    """Socket Mode: the same slash command delivered again in a new envelope (same trigger)."""
    app, svc = real_bot
    payload = standin.slash(f"localhost:{closed_port()}")
    await standin.envelope("slash_commands", payload)
    await standin.envelope("slash_commands", payload, retry_attempt=1, retry_reason="timeout")
    await asyncio.sleep(0.5)
    await app.whycant.drain(30)
    [inc] = await _incidents(svc)
    assert inc.asked_count == 1


async def test_shutdown_cancels_running_diagnoses_and_marks_them_interrupted(standin, tmp_path, monkeypatch):  # noqa: F811
    """What `serve` does at SIGTERM after its drain: `SlackFrontEnd.cancel()`."""
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    cfg = parse_config(
        {
            "database": f"sqlite:///{tmp_path}/w.db",
            "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
            "probe": {"window_seconds": 60, "connect_attempts": 2, "connect_timeout": 1},
        },
        source=str(tmp_path / "whycant.yaml"),
    )
    svc = await Whycant.create(cfg)
    app = build_app(svc, cfg, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.0)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    try:
        await standin.wait_sockets(1)
        await standin.envelope("events_api", standin.mention(f"localhost:{closed_port()}", channel=OPS))
        deadline = time.monotonic() + 20
        while not [i for i in await _incidents(svc) if i.diagnosing]:
            assert time.monotonic() < deadline, "never started diagnosing"
            await asyncio.sleep(0.1)
        t0 = time.monotonic()
        cancelled = await app.whycant.cancel(timeout=10)
        assert cancelled and all(t.done() for t in cancelled) and time.monotonic() - t0 < 5
        [inc] = await _incidents(svc)
        assert inc.status == "interrupted" and not inc.diagnosing
        assert svc.interrupted == [inc.id]
    finally:
        await runner.close()
        await svc.close()
