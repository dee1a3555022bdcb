"""Real `whycant runner` processes for tests: started by Popen, stopped by their own PID."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

WHYCANT = str(Path(sys.executable).parent / "whycant")


class RunnerProc:
    """One runner process (optionally inside a network namespace via `ip netns exec`)."""

    def __init__(self, config: dict[str, Any], zone: str, name: str, workdir: Path, netns: str | None = None):
        self.zone, self.name, self.netns = zone, name, netns
        self.config_path = workdir / f"runner-{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"runner-{name}.log"
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        cmd = [WHYCANT, "runner", "--zone", self.zone, "--name", self.name, "-c", str(self.config_path)]
        return (["ip", "netns", "exec", self.netns] if self.netns else []) + cmd

    def start(self) -> RunnerProc:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "WHYCANT_CONFIG": ""},
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the runner dies mid-job without a word."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


async def wait_live(app: Any, names: Sequence[str], timeout: float = 30.0) -> None:
    """Until every named runner has sent a heartbeat (bounded)."""
    from bot.zones import queue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = {r["name"] for rs in (await queue.live_runners(app, 10)).values() for r in rs}
        if set(names) <= live:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"runners {sorted(set(names))} sent no heartbeat within {timeout} s")
