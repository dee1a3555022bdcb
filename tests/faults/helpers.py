"""Shared bits of the fault tests: run the real CLI, hold a SQLite lock from another real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

WHYCANT = [sys.executable, "-m", "bot.cli"]

LOCKER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def env_for(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(tmp),
        "XDG_STATE_HOME": str(tmp / "state"),
        "WHYCANT_LOG_LEVEL": os.environ.get("WHYCANT_LOG_LEVEL", "WARNING"),
    }


def run(tmp: Path, *args: str, cfg: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    extra = ["--config", str(cfg)] if cfg else []
    return subprocess.run(
        [*WHYCANT, *args, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env_for(tmp),
        cwd=tmp,
    )


def write_config(tmp: Path, database: str, **extra) -> Path:
    path = tmp / "whycant.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": database,
                "spool_dir": str(tmp / "spool"),
                "database_wait_seconds": 2,
                "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
                "probe": {"window_seconds": 0.2, "connect_attempts": 2, "connect_timeout": 1},
                **extra,
            }
        )
    )
    path.chmod(0o600)
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sqlite_locked_by_another_process(db: Path, seconds: float = 60) -> Iterator[subprocess.Popen]:
    """A real second process holding an exclusive SQLite lock on *db* until the block ends."""
    p = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "locked"
        yield p
    finally:
        p.kill()
        p.wait(timeout=10)


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0
