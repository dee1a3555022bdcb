"""Fixtures: the Slack stand-in (real HTTP + WebSocket on 127.0.0.1)."""

from __future__ import annotations

import pytest

from tests.slack import standin as si


@pytest.fixture
async def standin():
    s = await si.StandIn().start()
    yield s
    await s.close()
