"""Fixtures for end-to-end Slack tests against the REAL core service and the lab.

Imported by ``tests/slack/test_e2e_real.py`` (not by ``tests/slack/conftest.py``:
the other Slack tests keep their fake service).

- ``real_cfg`` (function): the lab's whycant config dict, with SQLite in ``tmp_path``,
  ``triage`` granted to ``U0ONCALL`` only, written to ``tmp_path/whycant.yaml``
  (``.path`` on the returned object).
- ``real_service``: ``Whycant.create(config)`` — real rules, real SSH transports, real storage.
- ``real_socket_bot``: the real AsyncApp in Socket Mode over real WebSockets to the stand-in.
- ``serve_http``: ``whycant serve --http PORT`` as a subprocess (factory; stopped by its PID).

``standin`` (the Slack stand-in) comes from ``tests/slack/conftest.py``; ``clean_lab`` from the lab fixtures.

Everything listens on 127.0.0.1; the lab hosts are on 198.18.N.0/24.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.slack import standin as si

ONCALL = "U0ONCALL"  # holds `triage`
ALICE = "U0ALICE"  # may diagnose, may not triage
REPO = Path(__file__).resolve().parents[2]


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("end-to-end Slack tests drive the network-namespace lab: they need root")


@dataclass
class RealConfig:
    data: dict[str, Any]
    path: Path

    @property
    def window_seconds(self) -> float:
        return float(self.data["probe"]["window_seconds"])

    def parsed(self):
        from bot.config import parse_config

        return parse_config(self.data, source=str(self.path))


@pytest.fixture
def real_cfg(clean_lab, tmp_path) -> RealConfig:
    require_root()
    cfg = clean_lab.whycant_config()
    cfg["database"] = f"sqlite:///{tmp_path}/whycant.db"
    cfg["vantages"]["office"]["nat"] = False  # as in tests/e2e: the lab's office is not behind NAT
    cfg["permissions"] = {"diagnose": ["*"], "triage": [ONCALL], "drift": ["*"], "admin": []}
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return RealConfig(cfg, path)


@pytest.fixture
async def real_service(real_cfg):
    from bot.service import Whycant

    svc = await Whycant.create(real_cfg.parsed())
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def real_socket_bot(standin, real_service, real_cfg, monkeypatch):
    """The real AsyncApp + real Whycant in Socket Mode; ``.runner`` is the SocketRunner."""
    from bot.slack.app import build_app
    from bot.slack.socket import SocketRunner

    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    app = build_app(real_service, real_service.config, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.2)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    await standin.wait_sockets(1)
    app.runner = runner
    try:
        yield app
    finally:
        await app.whycant.drain(10)
        await runner.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM by PID (graceful: in-flight replies drained, database closed); SIGKILL after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 5)
        return self.proc.returncode


@pytest.fixture
async def serve_http(standin, real_cfg, tmp_path):
    """``python -m bot.cli serve --http PORT --config F`` against the stand-in; stopped by its PID."""
    started: list[ServeProcess] = []

    async def start() -> ServeProcess:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(
            SLACK_BOT_TOKEN=si.BOT_TOKEN,
            SLACK_SIGNING_SECRET=si.SIGNING_SECRET,
            SLACK_API_URL=standin.api_url,
            PYTHONUNBUFFERED="1",
        )
        log = tmp_path / f"serve-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "serve",
                    "--http",
                    str(port),
                    "--host",
                    "127.0.0.1",
                    "--config",
                    str(real_cfg.path),
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        sp = ServeProcess(proc, port, log)
        started.append(sp)
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as s:
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"serve exited with {proc.returncode}:\n{sp.output()}")
                try:
                    async with s.get(sp.base + "/healthz") as r:
                        if r.status == 200:
                            return sp
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve did not come up:\n{sp.output()}")
                await asyncio.sleep(0.1)

    try:
        yield start
    finally:
        for sp in started:
            await sp.stop()
