"""Local transport: the bot's own host, no SSH (argv exec, never a shell)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Sequence

from probes.errors import CommandTimeout, ConnectFailed
from probes.inventory import Host
from probes.transports.base import CommandResult, cut_output
from probes.transports.ssh_settings import DEFAULT_MAX_OUTPUT_BYTES

_MAX_FILE = 4 * 1024 * 1024


def _read(path: str) -> str | None:
    try:
        chunks, total = [], 0
        with open(path, "rb", buffering=0) as f:
            # /proc/sys handlers refuse huge single reads: read in modest chunks until EOF.
            while total < _MAX_FILE:
                chunk = f.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return None


def _listdir(path: str) -> list[str] | None:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


async def _each_in_thread(host: Host, fn, paths: Sequence[str], timeout: float, what: str) -> dict:
    """``{path: fn(path)}`` with blocking file I/O in threads, bounded by *timeout*."""
    loop = asyncio.get_running_loop()
    try:
        results = await asyncio.wait_for(asyncio.gather(*(loop.run_in_executor(None, fn, p) for p in paths)), timeout)
    except asyncio.TimeoutError:
        raise CommandTimeout(host.name, f"{what.format(n=len(paths))} took over {timeout:g} s") from None
    return dict(zip(paths, results))


async def _drain(stream: asyncio.StreamReader | None, buf: bytearray, cap: int) -> bool:
    """Read *stream* into *buf* up to *cap* bytes; True when there was more (the output was cut)."""
    if stream is None:
        return False
    while chunk := await stream.read(65536):
        if len(buf) + len(chunk) > cap:
            buf += chunk[: cap + 1 - len(buf)]  # one byte over: cut_output knows it was cut
            return True
        buf += chunk
    return False


class LocalTransport:
    """Runs commands with ``asyncio.create_subprocess_exec`` on this machine."""

    name = "local"

    def __init__(self, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES):
        self.max_output_bytes = max_output_bytes

    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        start = time.monotonic()
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult(
                host.name, tuple(argv), "", f"{argv[0]}: command not found", 127, time.monotonic() - start
            )
        except OSError as e:
            raise ConnectFailed(host.name, f"cannot start {argv[0]}: {e.strerror}") from None
        cap = max_output or self.max_output_bytes
        out, err = bytearray(), bytearray()

        async def communicate() -> bool:
            if stdin is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(stdin.encode())
                    await proc.stdin.drain()
                    proc.stdin.close()
                except (BrokenPipeError, ConnectionResetError):  # it exited without reading it all
                    pass
            cut = False

            async def drain(stream: asyncio.StreamReader | None, buf: bytearray) -> None:
                nonlocal cut
                if await _drain(stream, buf, cap):  # a flood: stop it at once (as the SSH transport does),
                    cut = True  # which also ends the other stream
                    with contextlib.suppress(ProcessLookupError):  # it may have exited already
                        proc.kill()

            await asyncio.gather(drain(proc.stdout, out), drain(proc.stderr, err))
            await proc.wait()
            return cut

        try:
            truncated = await asyncio.wait_for(communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise CommandTimeout(host.name, f"{argv[0]} did not finish within {timeout:g} s") from None
        except asyncio.CancelledError:  # stopped (signal): its own session gets no SIGTERM from ours
            proc.kill()
            await proc.wait()
            raise
        return CommandResult(
            host.name,
            tuple(argv),
            cut_output(bytes(out), cap).decode("utf-8", "replace"),
            cut_output(bytes(err), cap).decode("utf-8", "replace"),
            proc.returncode if proc.returncode is not None else -1,
            time.monotonic() - start,
            truncated=truncated,
        )

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, str | None]:
        return await _each_in_thread(host, _read, paths, timeout, "reading {n} files")

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, list[str] | None]:
        return await _each_in_thread(host, _listdir, paths, timeout, "listing {n} directories")

    async def close(self) -> None:
        return None
