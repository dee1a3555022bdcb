"""A real ``Whycant`` (rules, SQLite storage, a local-transport inventory) for command tests: nothing is mocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_config
from bot.service import Whycant

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "public"
# A single `netstat -s` snapshot (old net-tools wording) whose host overflowed its accept queues.
OVERFLOWS = FIXTURES / "netstat-s" / "zperf-tcpmon-commit52f365d-oldwording-listen-overflows-netstat-s.txt"

PERMS = {"diagnose": ["*"], "triage": ["U0ONCALL"], "drift": ["U0DRIFT"], "admin": ["U0ROOT"]}


def config(tmp_path: Path, permissions: dict | None = None):
    return parse_config(
        {
            "database": f"sqlite:///{tmp_path}/w.db",
            "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
            "probe": {"window_seconds": 0.3, "connect_attempts": 2, "connect_timeout": 1},
            "permissions": permissions if permissions is not None else PERMS,
        },
        source=str(tmp_path / "whycant.yaml"),
    )


@pytest.fixture
async def svc(tmp_path):
    s = await Whycant.create(config(tmp_path))
    try:
        yield s
    finally:
        await s.close()
