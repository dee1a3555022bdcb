"""Which process runs a diagnosis, and whether it is still alive (crash recovery, docs/architecture.md §Storage).

A runner id is ``host:pid:start``, the start time of the process in clock ticks since boot (so a reused PID
is not mistaken for the process that started the run).
"""

from __future__ import annotations

import os
import socket


def proc_start_time(pid: int) -> str | None:
    """Start time of *pid* in clock ticks since boot (guards against PID reuse); None if not running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):  # zombie / dead: killed but not reaped yet
        return None
    return fields[19] if len(fields) > 19 else "0"


def runner_id(pid: int | None = None) -> str:
    """This process's (or *pid*'s) runner id."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{proc_start_time(pid) or '0'}"


def runner_alive(runner: str) -> bool | None:
    """True/False for a runner on this host; None when it ran on another host (cannot tell)."""
    try:
        host, pid_s, start = runner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return None
    now_start = proc_start_time(pid)
    if now_start is None:
        if os.path.isdir("/proc"):
            return False
        try:  # no /proc: signal 0 probes existence
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    return start in ("0", now_start)
