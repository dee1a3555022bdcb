"""Replay transport: recorded outputs, for tests and offline analysis.

A recording maps host name -> {"files": {path: text|None}, "commands": {"argv joined": {...}},
"dirs": {path: [names]|None}}. Without "dirs", a directory lists the recorded files in it.
Unknown commands or hosts behave like an unreachable host, so the code paths for
partial evidence are exercised too.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from typing import Any, Sequence

from probes.errors import CommandTimeout, ConnectFailed
from probes.inventory import Host
from probes.transports.base import CommandResult


class ReplayTransport:
    name = "replay"

    def __init__(self, recording: dict[str, dict[str, Any]], *, delay_s: float = 0.0):
        self.recording = recording
        self.delay_s = delay_s
        self.calls: list[tuple[str, str]] = []

    def _host(self, host: Host) -> dict[str, Any]:
        rec = self.recording.get(host.name)
        if rec is None or rec.get("unreachable"):
            raise ConnectFailed(host.name, (rec or {}).get("unreachable") or "no recording for this host")
        return rec

    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        cmd = shlex.join(argv)
        self.calls.append((host.name, cmd))
        rec = self._host(host)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        out = rec.get("commands", {}).get(cmd) or rec.get("commands", {}).get(argv[0])
        if out is None:
            return CommandResult(host.name, tuple(argv), "", f"{argv[0]}: command not found", 127, 0.0)
        if out.get("hang"):
            raise CommandTimeout(host.name, f"{argv[0]} did not finish within {timeout:g} s")
        return CommandResult(
            host.name,
            tuple(argv),
            out.get("stdout", ""),
            out.get("stderr", ""),
            int(out.get("exit", 0)),
            float(out.get("duration_s", 0.0)),
        )

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, str | None]:
        self.calls.append((host.name, "read:" + ",".join(paths)))
        rec = self._host(host)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        files = rec.get("files", {})
        return {p: files.get(p) for p in paths}

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, list[str] | None]:
        self.calls.append((host.name, "list:" + ",".join(paths)))
        rec = self._host(host)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if "dirs" in rec:
            dirs = rec["dirs"] or {}
            return {p: (sorted(dirs[p]) if dirs.get(p) is not None else None) for p in paths}
        known = list(rec.get("files", {}))
        result: dict[str, list[str] | None] = {}
        for p in paths:
            names = {posixpath.basename(f.strip()) for f in known if posixpath.dirname(f.strip()) == p.rstrip("/")}
            result[p] = sorted(n for n in names if n) or None
        return result

    async def close(self) -> None:
        return None
