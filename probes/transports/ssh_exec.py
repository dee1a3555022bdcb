"""One remote command over an SSH channel: how it is wrapped, how its output is read and capped, how it is killed.

The command runs as ``sh -c WRAPPER whycant ARGV...``: the wrapper reports its PID on stderr (stripped from the
result) and execs ARGV in its place, so a timed-out or flooding command can be killed by PID. argv is quoted
with ``shlex.join`` (sshd runs commands through the user's login shell); no text reaches a shell unquoted.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from typing import Any

import asyncssh

from probes.transports.base import CommandResult, cut_output

PID_MARK = b"whycant-pid "
WRAPPER = 'printf "whycant-pid %s\\n" "$$" >&2; exec "$@"'
READ_CHUNK = 65536
# The only commands `ssh.sudo: true` prefixes with `sudo -n` (docs/ssh.md gives the sudoers lines).
SUDO_COMMANDS: frozenset[tuple[str, ...]] = frozenset({("ss", "-ltnpH"), ("ss", "-tanpH")})
# What a broken channel or connection raises while a command runs.
CHANNEL_ERRORS = (asyncssh.Error, OSError, EOFError)


def remote_command(argv: tuple[str, ...], *, sudo: bool) -> str:
    """The command line sent to sshd for *argv* (``sudo -n`` only for ``SUDO_COMMANDS`` when *sudo*)."""
    remote_argv = ("sudo", "-n", "--", *argv) if sudo and argv in SUDO_COMMANDS else argv
    return shlex.join(["sh", "-c", WRAPPER, "whycant", *remote_argv])


class CappedOutput:
    """stdout and stderr of one process, each read up to *cap* bytes; the wrapper's PID line is taken out."""

    def __init__(self, proc: asyncssh.SSHClientProcess, cap: int):
        self.proc = proc
        self.cap = cap
        self.pid: list[int] = []
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._size = {"out": 0, "err": 0}
        self._over = asyncio.Event()

    @property
    def truncated(self) -> bool:
        """True once stdout or stderr went over the cap (reading stopped there)."""
        return self._over.is_set()

    def _add(self, stream: str, data: bytes) -> None:
        (self._out if stream == "out" else self._err).append(data)
        self._size[stream] += len(data)
        if self._size[stream] > self.cap:
            self._over.set()

    async def _read_stdout(self) -> None:
        while not self._over.is_set():
            chunk = await self.proc.stdout.read(READ_CHUNK)
            if not chunk:
                return
            self._add("out", chunk)

    async def _read_stderr(self) -> None:
        while not self._over.is_set():
            line = await self.proc.stderr.readline()
            if not line:
                return
            if not self.pid and line.startswith(PID_MARK):
                with contextlib.suppress(ValueError):
                    self.pid.append(int(line[len(PID_MARK) :].strip()))
                    continue
            self._add("err", line)

    async def collect(self, stdin: str | None) -> None:
        """Send *stdin* (then EOF) and read until the process ends or its output goes over the cap."""
        if stdin:
            self.proc.stdin.write(stdin.encode())
        self.proc.stdin.write_eof()
        readers: asyncio.Future[Any] = asyncio.gather(self._read_stdout(), self._read_stderr())
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._over.wait())
        try:
            await asyncio.wait([readers, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if self._over.is_set():
            readers.cancel()
            with contextlib.suppress(asyncio.CancelledError, *CHANNEL_ERRORS):
                await readers
            return
        await readers
        await self.proc.wait_closed()

    def result(self, host: str, argv: tuple[str, ...], duration_s: float) -> CommandResult:
        """The output as a ``CommandResult``; a truncated one has exit status -1 (the command was stopped)."""
        status = self.proc.returncode
        return CommandResult(
            host=host,
            argv=argv,
            stdout=cut_output(b"".join(self._out), self.cap).decode("utf-8", errors="replace"),
            stderr=cut_output(b"".join(self._err), self.cap).decode("utf-8", errors="replace"),
            exit_status=status if status is not None and not self.truncated else -1,
            duration_s=duration_s,
            truncated=self.truncated,
        )


async def kill_remote(
    conn: asyncssh.SSHClientConnection, proc: asyncssh.SSHClientProcess, pid: list[int], timeout: float
) -> None:
    """Make sure a stopped remote command does not live on.

    Closing the channel alone does not do it: without a pty, sshd keeps the child running. The SSH "signal"
    request works for non-root users only (sshd refuses it for root logins, which skip post-auth privilege
    separation), so the command's PID (reported by the wrapper) is also killed, with its process group, over
    a second channel (*pid* empty: the wrapper never reported it; nothing more to do).
    """
    with contextlib.suppress(Exception):
        proc.kill()
    with contextlib.suppress(Exception):
        proc.close()
    if not pid:
        return
    kill = shlex.join(["kill", "-s", "KILL", "--", f"-{pid[0]}", str(pid[0])])  # POSIX form: dash rejects "-KILL --"
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.run(kill, check=False), timeout)
