"""Real processes for the service tests: ``whycant serve``, Prometheus, Alertmanager.

Each binds 127.0.0.1 on a free port, writes its own log and data into the test's tmp dir,
and is stopped by its own PID (SIGTERM, then SIGKILL after a bound). Nothing else is touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.slack import standin as si

REPO = Path(__file__).resolve().parents[2]
ALERT_TOKEN = "am-test-token-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on (the diagnosed target: `port-not-listening`)."""
    return free_port()


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (make system-deps installs it)")
    return path


def serve_config(tmp_path: Path, *, port: int, database: str | None = None, **extra: Any) -> Path:
    """A config with one inventory host, db01 (this machine, local transport), its postgres on *port*."""
    cfg: dict[str, Any] = {
        "database": database or f"sqlite:///{tmp_path}/whycant.db",
        "hosts": {
            "db01": {
                "address": "127.0.0.1",
                "transport": "local",
                "aliases": ["bot"],
                "groups": ["db"],
                "services": {"postgres": port},
            }
        },
        "probe": {"window_seconds": 0.3, "connect_attempts": 3, "connect_timeout": 1, "connect_interval": 0.05},
        "slack": {"progress_updates": False},
        "alertmanager": {"default_channel": "C0ALERTS", "routes": [{"receiver": "dba", "channel": "C0DBA"}]},
    }
    cfg.update(extra)
    path = tmp_path / "whycant.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@dataclass
class Proc:
    """A process we started: its PID, log and the base URL it serves."""

    proc: subprocess.Popen
    port: int
    log: Path
    name: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    async def wait(self, timeout: float) -> int | None:
        try:
            return await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            return None

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM by PID; SIGKILL after *timeout*."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            if await self.wait(timeout) is None:
                self.proc.kill()
                await self.wait(5)
        return self.proc.returncode


def _spawn(name: str, argv: list[str], tmp_path: Path, port: int, env: dict[str, str] | None = None) -> Proc:
    log = tmp_path / f"{name}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=tmp_path if name != "serve" else REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Proc(proc, port, log, name)


async def wait_http(p: Proc, path: str, *, timeout: float = 30.0, ok: tuple[int, ...] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while True:
            if p.proc.poll() is not None:
                raise AssertionError(f"{p.name} exited with {p.proc.returncode}:\n{p.output()[-4000:]}")
            try:
                async with s.get(p.base + path) as r:
                    if r.status in ok:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{p.name} did not answer {path} in {timeout:g}s:\n{p.output()[-4000:]}")
            await asyncio.sleep(0.1)


def serve_env(api_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHYCANT_")) and k not in ("XDG_STATE_HOME",)
    }
    env.update(
        SLACK_BOT_TOKEN=si.BOT_TOKEN,
        SLACK_APP_TOKEN=si.APP_TOKEN,
        SLACK_API_URL=api_url,
        WHYCANT_ALERTMANAGER_TOKEN=ALERT_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


async def start_serve(
    tmp_path: Path, config: Path, env: dict[str, str], *, args: tuple[str, ...] = (), ready_path: str = "/healthz"
) -> Proc:
    """``whycant serve`` (Socket Mode unless *args* say ``--http``) with its HTTP server on a free port."""
    port = free_port()
    mode = ["--http", str(port)] if "--http" in args else ["--port", str(port)]
    rest = [a for a in args if a != "--http"]
    p = _spawn(
        "serve", [sys.executable, "-m", "bot.cli", "serve", *mode, "--config", str(config), *rest], tmp_path, port, env
    )
    await wait_http(p, ready_path)
    return p


async def start_alertmanager(tmp_path: Path, webhook_url: str, *, token: str = ALERT_TOKEN) -> Proc:
    binary = need("prometheus-alertmanager")
    port = free_port()
    (tmp_path / "am-token").write_text(token)
    cfg = {
        "route": {
            "receiver": "dba",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "3s",
        },
        "receivers": [
            {
                "name": "dba",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "max_alerts": 0,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "am-token")}
                        },
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "am-data").mkdir(exist_ok=True)
    p = _spawn(
        "alertmanager",
        [
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
        tmp_path,
        port,
    )
    await wait_http(p, "/-/ready")
    return p


async def start_prometheus(tmp_path: Path, target: str, rules: Path) -> Proc:
    binary = need("prometheus")
    port = free_port()
    cfg = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "whycant", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    p = _spawn(
        "prometheus",
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path,
        port,
    )
    await wait_http(p, "/-/ready")
    return p
