"""asyncssh transport: commands and file reads on inventory hosts (docs/architecture.md §Probes, §Scale and operations).

The parts, by job: ``ssh_settings`` (its settings), ``ssh_route`` (which hops reach a
host: inventory, OpenSSH config, ProxyJump), ``ssh_pool`` (pooled connections and
jump hosts, connect errors), ``ssh_hostkeys`` (known_hosts, revoked keys, host
certificates), ``ssh_files`` (SFTP, or one fixed exec command where SFTP is missing),
``ssh_wire`` (cipher order, write coalescing), ``ssh_exec`` (one remote command: its
wrapper, capped output, kill by PID).

- Concurrency: at most ``per_host_concurrency`` channels per (address, port) and
  ``max_concurrency`` in total (the per-host slot is taken first, so a task
  queueing for a busy host never holds a global slot).
- ``run`` quotes argv with ``shlex.join`` (sshd runs commands through the user's
  login shell). Its ``timeout`` covers the command; on a timeout the remote process
  group is killed and ``CommandTimeout`` raised. Output beyond ``max_output_bytes``
  (stdout and stderr each) is cut at a line end, the command is stopped like a timed
  out one, and the result says ``truncated``.
- ``read_files`` / ``list_dir`` use SFTP (no shell), reading until EOF because /proc
  files report size 0. A host whose SFTP subsystem is missing is detected once per
  connection and then served by ``ssh_files.READ_SCRIPT``/``LIST_SCRIPT`` over exec.
  Both return ``Reads``: ``access`` ("sftp"/"exec") and ``unreadable`` (path -> "not
  readable by USER") besides the contents.
- ``ssh.sudo``: only the argv in ``ssh_exec.SUDO_COMMANDS`` run as ``sudo -n``.
- Cheap ciphers first (``aes128-gcm@openssh.com``), no compression.

A transport belongs to the event loop it is first used on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shlex
import time
from pathlib import Path
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Protocol,
    Sequence,
    TypeVar,
)

import asyncssh

from probes.errors import CommandTimeout, ConnectFailed, TransportError, WhycantError
from probes.inventory import Host
from probes.transports import ssh_files as sf
from probes.transports.base import CommandResult, Reads
from probes.transports.ssh_exec import CHANNEL_ERRORS, CappedOutput, kill_remote, remote_command
from probes.transports.ssh_pool import ConnectionPool, Pooled
from probes.transports.ssh_route import Route, RouteResolver
from probes.transports.ssh_settings import SSHSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class CommandFailed(WhycantError):
    """A command's channel closed without an exit status: the command's own failure, not the login's."""

    def __init__(self, host: str, message: str):
        self.host, self.message = host, message
        super().__init__(f"{host}: {message}")


class _HasSettings(Protocol):
    def settings(self, base_dir: str | Path | None = None) -> SSHSettings: ...


class SSHTransport:
    """The Transport protocol over asyncssh (see the module docstring)."""

    name = "ssh"

    def __init__(
        self,
        settings: SSHSettings | _HasSettings,
        *,
        base_dir: str | Path | None = None,
        hosts: Mapping[str, Host] | None = None,
    ):
        if not isinstance(settings, SSHSettings):  # bot.config.SSHConfig builds ours
            settings = settings.settings(base_dir)
        elif base_dir is not None and settings.base_dir is None:
            settings = dataclasses.replace(settings, base_dir=str(base_dir))
        self.config = settings
        self.routes = RouteResolver(settings, hosts)
        self.pool = ConnectionPool(settings)
        self._host_sems: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._global_sem: asyncio.Semaphore | None = None
        self._background: set[asyncio.Future] = set()
        # observable counters (tests, /metrics)
        self.reconnects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.host_in_flight: dict[tuple[str, int], int] = {}
        self.host_max_in_flight: dict[tuple[str, int], int] = {}
        if not settings.host_key_checking:
            log.warning(
                "ssh.known_hosts is 'ignore': SSH host keys are NOT verified; "
                "any machine answering on a host's address will be trusted"
            )

    @property
    def connects(self) -> int:
        return self.pool.connects

    def route(self, host: Host) -> Route:
        return self.routes.route(host)

    def user(self, host: Host) -> str:
        """The user whycant logs in as on *host*."""
        return self.route(host).target.user

    # ------------------------------------------------------------------ concurrency
    @contextlib.asynccontextmanager
    async def _slot(self, host: Host) -> AsyncIterator[None]:
        hk = (host.address, host.port)
        sem = self._host_sems.get(hk)
        if sem is None:
            sem = self._host_sems[hk] = asyncio.Semaphore(self.config.per_host_concurrency)
        if self._global_sem is None:
            self._global_sem = asyncio.Semaphore(self.config.max_concurrency)
        async with sem, self._global_sem:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            n = self.host_in_flight[hk] = self.host_in_flight.get(hk, 0) + 1
            self.host_max_in_flight[hk] = max(self.host_max_in_flight.get(hk, 0), n)
            try:
                yield
            finally:
                self.in_flight -= 1
                self.host_in_flight[hk] -= 1

    # ------------------------------------------------------------------ pool
    def pooled_connection(self, host: Host) -> asyncssh.SSHClientConnection | None:
        """The open pooled connection to *host*, if any (for tests and diagnostics)."""
        p = self.pool.get(self.route(host).key())
        return p.conn if p is not None else None

    async def _open(self, host: Host, opener: Callable[[Pooled], Awaitable[T]]) -> tuple[Pooled, T]:
        """Acquire a pooled connection and open a channel on it with *opener*.

        If a reused connection turns out to be dead (the channel cannot be opened),
        it is evicted and replaced once; nothing has run remotely at that point.
        The caller must release the returned connection.
        """
        route = self.route(host)
        for attempt in (1, 2):
            p, reused = await self.pool.acquire(route, host.name)
            try:
                return p, await opener(p)
            except (asyncio.TimeoutError, TimeoutError):
                self.pool.release(p)
                raise
            except CHANNEL_ERRORS as e:
                self.pool.release(p)
                if not reused or attempt == 2:
                    if not p.alive:
                        self.pool.evict(p)
                    raise self._session_error(host, e) from None
                log.debug("pooled SSH connection to %s died (%s); reconnecting", host.name, e)
                self.pool.evict(p)
                self.reconnects += 1
            except BaseException:
                self.pool.release(p)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ commands
    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        """Run argv (quoted with shlex.join) on *host*; *timeout* defaults to ssh.command_timeout,
        *max_output* to ssh.max_output_bytes."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(argv, str) or not argv:
            raise ValueError("argv must be a non-empty sequence of arguments, not a string")
        argv_t = tuple(str(a) for a in argv)
        command = shlex.join(argv_t)
        remote = remote_command(argv_t, sudo=self.config.sudo)
        async with self._slot(host):
            for attempt in (1, 2):
                p, proc = await self._open(host, lambda p: p.conn.create_process(remote, encoding=None))
                try:
                    res = await self._communicate(host, p, proc, argv_t, command, timeout, stdin, max_output)
                finally:
                    self.pool.release(p)
                if res is not None:
                    return res
                # the server closed the channel without an exit status (seen once with dropbear
                # under load): the probes are read-only, so run it once more on a fresh channel
                log.info("%s: `%s` ended without an exit status (attempt %d)", host.name, command, attempt)
        raise CommandFailed(
            host.name, f"`{command}` ended twice without an exit status (the SSH server closed the channel early)"
        )

    async def _communicate(
        self,
        host: Host,
        p: Pooled,
        proc: asyncssh.SSHClientProcess,
        argv: tuple[str, ...],
        command: str,
        timeout: float,
        stdin: str | None,
        max_output: int | None = None,
    ) -> CommandResult | None:
        t0 = time.monotonic()
        output = CappedOutput(proc, max_output or self.config.max_output_bytes)
        try:
            await asyncio.wait_for(output.collect(stdin), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self._abort_soon(p, proc, output.pid)
            raise CommandTimeout(
                host.name, f"command timed out after {timeout:g} s (remote process killed): {command}"
            ) from None
        except asyncio.CancelledError:
            self._abort_soon(p, proc, output.pid)
            raise
        except CHANNEL_ERRORS as e:
            await self._abort(p, proc, output.pid)
            if not p.alive:
                self.pool.evict(p)
            raise self._session_error(host, e) from None
        if output.truncated:
            self._abort_soon(p, proc, output.pid)
            log.warning(
                "%s: output of `%s` exceeded its cap (%d bytes, ssh.max_output_bytes); cut and stopped",
                host.name,
                command,
                output.cap,
            )
        elif proc.returncode is None:
            return None  # closed without an exit status: run() retries once
        return output.result(host.name, argv, time.monotonic() - t0)

    def _abort_soon(self, p: Pooled, proc: asyncssh.SSHClientProcess, pid: list[int]) -> None:
        """Signal and close the channel now; kill by PID in the background (tracked, awaited by close())."""
        task = asyncio.ensure_future(self._abort(p, proc, pid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _abort(self, p: Pooled, proc: asyncssh.SSHClientProcess, pid: list[int]) -> None:
        """Stop a remote command for good (ssh_exec.kill_remote), if its connection still lives."""
        await kill_remote(p.conn, proc, pid if p.alive else [], min(2.0, self.config.connect_timeout + 1))

    @staticmethod
    def _session_error(host: Host, e: BaseException) -> TransportError:
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        return ConnectFailed(host.name, f"SSH session failed: {reason}")

    # ------------------------------------------------------------------ files
    async def _sftp(self, p: Pooled, timeout: float) -> asyncssh.SFTPClient | None:
        """The connection's SFTP session, or None when the host has no SFTP subsystem (detected once)."""
        async with p.sftp_lock:
            if p.sftp is None and p.sftp_missing is None:
                try:
                    p.sftp = await asyncio.wait_for(p.conn.start_sftp_client(), timeout)
                except (asyncio.TimeoutError, TimeoutError):
                    raise
                except CHANNEL_ERRORS as e:
                    if not p.alive:
                        raise
                    p.sftp_missing = getattr(e, "reason", None) or str(e) or type(e).__name__
                    log.info("%s has no SFTP (%s): reading files over exec", p.hop.name, p.sftp_missing)
            return p.sftp

    async def _files(
        self,
        host: Host,
        paths: list[str],
        timeout: float,
        what: str,
        sftp_one: Callable[[asyncssh.SFTPClient, str, str], Awaitable[tuple[Any, str | None]]],
        exec_argv: Callable[[list[str]], list[str]],
        parse: Callable[[str, list[str], str], tuple[dict[str, Any], dict[str, str]]],
    ) -> Reads:
        user = self.user(host)
        async with self._slot(host):
            try:
                p, sftp = await self._open(host, lambda p: self._sftp(p, timeout))
            except (asyncio.TimeoutError, TimeoutError):
                raise CommandTimeout(host.name, f"SFTP session did not start within {timeout:g} s") from None
            try:
                if sftp is not None:
                    reads = asyncio.gather(*(sftp_one(sftp, path, user) for path in paths))
                    got = await asyncio.wait_for(reads, timeout)
                    pairs = list(zip(paths, got, strict=True))
                    return Reads(
                        {path: v for path, (v, _) in pairs},
                        access="sftp",
                        unreadable={path: why for path, (_, why) in pairs if why},
                    )
            except (asyncio.TimeoutError, TimeoutError):
                raise CommandTimeout(host.name, f"{what} timed out after {timeout:g} s") from None
            except CHANNEL_ERRORS as e:
                if not p.alive:
                    self.pool.evict(p)
                else:
                    p.sftp = None  # the SFTP channel broke; start a new one next time
                raise self._session_error(host, e) from None
            finally:
                self.pool.release(p)
        # no SFTP on this host: one exec channel with the fixed script (its own slot)
        refused = {}
        for path in paths:
            try:
                sf.check_path(path)
            except sf.BadPath as e:
                refused[path] = str(e)
        ok = [path for path in paths if path not in refused]
        if not ok:
            return Reads(dict.fromkeys(paths), access="exec", unreadable=refused)
        res = await self.run(host, exec_argv(ok), timeout=timeout)
        if res.exit_status == 127 or (res.exit_status != 0 and not res.stdout):
            raise WhycantError(
                f"{host.name}: {what} over exec failed (no SFTP on this host; exit "
                f"{res.exit_status}): {res.stderr.strip()[:200]}"
            )
        values, unreadable = parse(res.stdout, ok, user)
        return Reads({path: values.get(path) for path in paths}, access="exec", unreadable={**unreadable, **refused})

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float | None = None) -> Reads[str]:
        """Read small text files (SFTP, or exec without it).

        Absent -> None; unreadable -> None and the reason in ``unreadable``."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        paths = list(paths)
        return await self._files(
            host, paths, timeout, f"reading {len(paths)} file(s)", sf.sftp_read, sf.read_argv, sf.parse_read_output
        )

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float | None = None) -> Reads[list[str]]:
        """Names in each directory (sorted, no . and ..); absent or unreadable -> None (see read_files)."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        paths = list(paths)
        return await self._files(
            host,
            paths,
            timeout,
            f"listing {len(paths)} directory(ies)",
            sf.sftp_list,
            sf.list_argv,
            sf.parse_list_output,
        )

    async def close(self) -> None:
        """Close every pooled connection (after any pending remote kills)."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=3)
        await self.pool.close()
