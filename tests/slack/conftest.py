"""Fixtures: the Slack stand-in, the fake core, and the real Bolt app in Socket Mode or HTTP mode."""

from __future__ import annotations

import types

import pytest

from bot.slack.app import build_app
from bot.slack.http import start_http
from bot.slack.socket import SocketRunner
from tests.slack import standin as si
from tests.slack.fake_service import FakeWhycant


@pytest.fixture
async def standin():
    s = await si.StandIn().start()
    yield s
    await s.close()


@pytest.fixture
def service():
    return FakeWhycant()


def _config(service):
    return types.SimpleNamespace(permissions=service.permissions, slack=types.SimpleNamespace(progress_updates=True))


@pytest.fixture
async def socket_bot(standin, service, monkeypatch):
    """The real AsyncApp over real WebSockets to the stand-in; ``.runner`` is the SocketRunner."""
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    app = build_app(service, _config(service), token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.0)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    await standin.wait_sockets(1)
    app.runner = runner
    yield app
    await app.whycant.drain(5)
    await runner.close()


@pytest.fixture
async def http_bot(standin, service):
    """The real AsyncApp behind the aiohttp server (HTTP mode); ``.url`` is its POST /slack/events."""
    app = build_app(
        service,
        _config(service),
        token=si.BOT_TOKEN,
        signing_secret=si.SIGNING_SECRET,
        base_url=standin.api_url,
        progress_interval=0.0,
    )
    runner, port = await start_http(app, 0, host="127.0.0.1")
    app.url = f"http://127.0.0.1:{port}/slack/events"
    app.base = f"http://127.0.0.1:{port}"
    yield app
    await app.whycant.drain(5)
    await runner.cleanup()
