"""asyncssh transport: pooled SSH connections to inventory hosts (DESIGN §2, §8).

- One connection per (address, port, user), reused across calls; keepalive;
  closed after ``idle_timeout`` seconds unused (0 = never); a pooled connection
  found dead is replaced once, transparently, before the command starts.
- Concurrency: at most ``per_host_concurrency`` channels per (address, port) and
  ``max_concurrency`` in total (the per-host slot is taken first, so a task
  queueing for a busy host never holds a global slot).
- Timeouts: ``connect_timeout`` covers TCP connect, key exchange and auth; the
  ``timeout`` given to ``run``/``read_files`` covers the command / the reads.
  On a command timeout the remote process group is sent SIGKILL (SSH "signal"
  request, honoured by OpenSSH >= 7.9 with killpg) and the channel is closed,
  then ``CommandTimeout`` is raised.
- Host keys are checked against ``known_hosts`` (default ``~/.ssh/known_hosts``),
  matching entries for the inventory name or the address;
  a different key is refused with ``HostKeyMismatch`` naming the presented
  fingerprint, a host absent from the file likewise ("not in known_hosts").
  ``known_hosts: ignore`` turns checking off, with a WARNING when the transport
  is created.
- ``run`` quotes argv with ``shlex.join`` (sshd runs commands through the user's
  login shell); ``read_files`` and ``list_dir`` use SFTP, no shell, reading
  until EOF because /proc files report size 0.
- Cheap ciphers first (``aes128-gcm@openssh.com``), no compression; the user's
  ~/.ssh/config is not read (the whycant config is the only source of settings);
  when ``client_keys`` are configured, only those keys are offered (no agent).

A transport belongs to the event loop it is first used on.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import logging
import os
import shlex
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Sequence, TypeVar

import asyncssh

from bot.config import SSHConfig
from probes.errors import AuthFailed, CommandTimeout, ConnectFailed, HostKeyMismatch, TransportError
from probes.hostport import format_hostport
from probes.inventory import Host
from probes.transports.base import CommandResult

log = logging.getLogger(__name__)

PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
SFTP_CHUNK = 65536
SFTP_MAX_FILE = 16 * 1024 * 1024  # probes read small text files; refuse to slurp more
PROC_SYS = "/proc/sys/"
COALESCE_WRITES = True  # see _CoalescingWriter

PoolKey = tuple[str, int, str]
# The remote command runs as `sh -c WRAPPER whycant ARGV...`: the wrapper reports its
# PID on stderr (stripped from the result) and execs ARGV in its place, so a timed-out
# command can be killed by PID.
_PID_MARK = "whycant-pid "
_WRAPPER = 'printf "whycant-pid %s\\n" "$$" >&2; exec "$@"'
# SFTP errors that mean the session, not the file, is gone
_SFTP_GONE = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection, asyncssh.SFTPBadMessage)
T = TypeVar("T")


def _cipher_list() -> list[str]:
    from asyncssh.encryption import get_default_encryption_algs, get_encryption_algs

    supported = [a.decode() for a in get_encryption_algs()]
    defaults = [a.decode() for a in get_default_encryption_algs()]
    first = [a for a in PREFERRED_CIPHERS if a in supported]
    return first + [a for a in defaults if a not in first]


class _CoalescingWriter:
    """Stands in for an SSH connection's asyncio transport: the SSH packets written during one
    event-loop iteration leave in one ``send()`` instead of one each.

    asyncssh writes every packet straight to the socket; a batch of SFTP requests (dozens of
    ``open``/``read``/``close`` issued together by ``asyncio.gather``) then costs one syscall,
    and on the server one wake-up, per packet. Bytes keep their order (every write goes
    through here); ``close``/``write_eof`` flush first; ``abort`` drops what is pending.
    """

    __slots__ = ("_t", "_loop", "_buf", "_size", "_scheduled")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._t = transport
        self._loop = loop
        self._buf: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        if self._size >= 262144:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def writelines(self, lines) -> None:  # noqa: ANN001
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._buf:
            return
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        self._size = 0
        if not self._t.is_closing():
            self._t.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._t.write_eof()

    def close(self) -> None:
        self._flush()
        self._t.close()

    def abort(self) -> None:
        self._buf.clear()
        self._size = 0
        self._t.abort()

    def get_write_buffer_size(self) -> int:
        return self._t.get_write_buffer_size() + self._size

    def __getattr__(self, name: str):  # everything else: the real transport
        return getattr(self._t, name)


def _coalesce_writes(conn: asyncssh.SSHClientConnection) -> None:
    """Put a :class:`_CoalescingWriter` in front of *conn*'s transport (after the handshake)."""
    t = getattr(conn, "_transport", None)
    if t is not None and not isinstance(t, _CoalescingWriter) and callable(getattr(t, "write", None)):
        conn._transport = _CoalescingWriter(t, asyncio.get_running_loop())  # type: ignore[attr-defined]


class _Client(asyncssh.SSHClient):
    """Remembers the host key a server presented when known_hosts did not trust it."""

    def __init__(self) -> None:
        self.untrusted_key: asyncssh.SSHKey | None = None
        self.lost = False

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.untrusted_key = key
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


@dataclass(eq=False)
class _Pooled:
    key: PoolKey
    conn: asyncssh.SSHClientConnection
    client: _Client
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    in_use: int = 0
    uses: int = 0
    sftp: asyncssh.SFTPClient | None = None
    sftp_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idle_handle: asyncio.TimerHandle | None = None

    @property
    def alive(self) -> bool:
        return not self.client.lost and not self.conn.is_closed()


class SSHTransport:
    """The Transport protocol over asyncssh (see the module docstring)."""

    name = "ssh"

    def __init__(self, ssh_config: SSHConfig, *, base_dir: str | Path | None = None):
        self.config = ssh_config
        self._base_dir = Path(base_dir) if base_dir else None
        self._pool: dict[PoolKey, _Pooled] = {}
        self._connecting: dict[PoolKey, asyncio.Future[_Pooled]] = {}
        self._host_sems: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._global_sem: asyncio.Semaphore | None = None
        self._known_hosts_cache: tuple[float | None, asyncssh.SSHKnownHosts] | None = None
        self._client_keys: list[asyncssh.SSHKey] | None = None
        self._ciphers = _cipher_list()
        self._closed = False
        self._background: set[asyncio.Future] = set()
        # observable counters (tests, /metrics)
        self.connects = 0
        self.reconnects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.host_in_flight: dict[tuple[str, int], int] = {}
        self.host_max_in_flight: dict[tuple[str, int], int] = {}
        if not ssh_config.host_key_checking:
            log.warning(
                "ssh.known_hosts is 'ignore': SSH host keys are NOT verified; "
                "any machine answering on a host's address will be trusted"
            )

    # ------------------------------------------------------------------ settings
    def _path(self, p: str) -> Path:
        path = Path(os.path.expanduser(p))
        if not path.is_absolute() and self._base_dir is not None:
            path = self._base_dir / path
        return path

    @property
    def known_hosts_path(self) -> Path | None:
        return self._path(self.config.known_hosts) if self.config.host_key_checking else None

    def _known_hosts(self) -> asyncssh.SSHKnownHosts | None:
        path = self.known_hosts_path
        if path is None:
            return None
        try:
            mtime: float | None = path.stat().st_mtime
        except OSError:
            mtime = None
        if self._known_hosts_cache is None or self._known_hosts_cache[0] != mtime:
            try:
                kh = asyncssh.read_known_hosts(str(path)) if mtime is not None else asyncssh.import_known_hosts("")
            except (OSError, ValueError) as e:
                log.error("cannot read known_hosts %s: %s; no host will be trusted", path, e)
                kh = asyncssh.import_known_hosts("")
            self._known_hosts_cache = (mtime, kh)
        return self._known_hosts_cache[1]

    def _keys(self, host: str) -> list[asyncssh.SSHKey] | None:
        if not self.config.client_keys:
            return None  # asyncssh defaults: ~/.ssh/id_* and the agent
        if self._client_keys is None:
            keys = []
            for p in self.config.client_keys:
                path = self._path(p)
                try:
                    keys.append(asyncssh.read_private_key(str(path)))
                except (OSError, asyncssh.KeyImportError) as e:
                    raise AuthFailed(host, f"cannot load SSH client key {path}: {getattr(e, 'strerror', None) or e}") from None
            self._client_keys = keys
        return self._client_keys

    def _user(self, host: Host) -> str:
        return host.user or self.config.user or getpass.getuser()

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
        p = self._pool.get((host.address, host.port, self._user(host)))
        return p.conn if p is not None and p.alive else None

    async def _acquire(self, host: Host) -> tuple[_Pooled, bool]:
        """A live pooled connection (and whether it was reused), marked in use."""
        if self._closed:
            raise TransportError(host.name, "transport is closed")
        key = (host.address, host.port, self._user(host))
        p = self._pool.get(key)
        if p is not None and not p.alive:
            self._evict(p)
            p = None
        reused = p is not None
        while p is None:
            p = self._pool.get(key)
            if p is not None:
                if p.alive:
                    break
                self._evict(p)
                p = None
            fut = self._connecting.get(key)
            if fut is not None:
                # another task is connecting to this host: share its result (or its error)
                try:
                    p = await asyncio.shield(fut)
                except asyncio.CancelledError:
                    if fut.cancelled():  # that connecting task was cancelled, not us: try ourselves
                        continue
                    raise
                if not p.alive:
                    p = None
                continue
            fut = asyncio.get_running_loop().create_future()
            self._connecting[key] = fut
            try:
                p = await self._connect(host, key)
            except asyncio.CancelledError:
                fut.cancel()
                raise
            except BaseException as e:
                fut.set_exception(e)
                fut.exception()  # retrieved: no "never retrieved" warning when nobody waits
                raise
            else:
                fut.set_result(p)
            finally:
                del self._connecting[key]
        if p.idle_handle is not None:
            p.idle_handle.cancel()
            p.idle_handle = None
        p.in_use += 1
        p.uses += 1
        p.last_used = time.monotonic()
        return p, reused

    def _release(self, p: _Pooled) -> None:
        p.in_use -= 1
        p.last_used = time.monotonic()
        if p.in_use == 0 and self.config.idle_timeout > 0 and self._pool.get(p.key) is p:
            loop = asyncio.get_running_loop()
            p.idle_handle = loop.call_later(self.config.idle_timeout, self._idle_close, p)

    def _idle_close(self, p: _Pooled) -> None:
        p.idle_handle = None
        if p.in_use == 0 and self._pool.get(p.key) is p:
            log.debug("closing idle SSH connection to %s:%s", p.key[0], p.key[1])
            self._evict(p)

    def _evict(self, p: _Pooled) -> None:
        if self._pool.get(p.key) is p:
            del self._pool[p.key]
        if p.idle_handle is not None:
            p.idle_handle.cancel()
            p.idle_handle = None
        if p.sftp is not None:
            with contextlib.suppress(Exception):
                p.sftp.exit()
            p.sftp = None
        with contextlib.suppress(Exception):
            p.conn.close()

    async def _connect(self, host: Host, key: PoolKey) -> _Pooled:
        address, port, user = key
        client = _Client()
        kh = self._known_hosts()
        keys = self._keys(host.name)
        opts = dict(
            port=port,
            username=user,
            known_hosts=kh,
            client_keys=keys if keys is not None else (),
            passphrase=None,
            password=None,
            preferred_auth="publickey",
            config=None,
            connect_timeout=self.config.connect_timeout,
            keepalive_interval=self.config.keepalive_interval,  # 0 disables
            keepalive_count_max=3,
            encryption_algs=self._ciphers,
            compression_algs=None,
            client_factory=lambda: client,
        )
        if keys is not None:
            opts["agent_path"] = None
        if kh is not None and host.name and host.name != address:
            # known_hosts entries may name the host (as `ssh db01` would record it) or its
            # address: with an alias asyncssh matches the inventory name and the peer address
            opts["host_key_alias"] = host.name
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(address, **opts), self.config.connect_timeout + 1.0
            )
        except Exception as e:  # noqa: BLE001 - mapped to typed errors below
            raise self._connect_error(host, key, client, kh, e) from None
        if COALESCE_WRITES:
            _coalesce_writes(conn)
        self.connects += 1
        p = _Pooled(key, conn, client)
        self._pool[key] = p
        log.debug("SSH connected to %s@%s:%s (%s)", user, address, port, conn.get_extra_info("send_cipher"))
        return p

    def _connect_error(
        self, host: Host, key: PoolKey, client: _Client, kh: asyncssh.SSHKnownHosts | None, e: Exception
    ) -> TransportError:
        address, port, user = key
        where = format_hostport(address, port)
        if isinstance(e, asyncssh.HostKeyNotVerifiable):
            return self._host_key_error(host, address, port, client.untrusted_key, kh)
        if isinstance(e, asyncssh.KeyExchangeFailed) and kh is not None and "host key" in str(e).lower():
            trusted = kh.match(host.name or address, address, port)[0]
            if trusted:
                types = ", ".join(sorted({k.get_algorithm() for k in trusted}))
                return HostKeyMismatch(
                    host.name,
                    f"host key does not match known_hosts ({self.known_hosts_path}): the server at {where} "
                    f"offers none of the key types known_hosts lists for it ({types}); refusing to connect",
                )
        if isinstance(e, asyncssh.PermissionDenied):
            keys = ", ".join(self.config.client_keys) or "default keys (~/.ssh/id_*) and agent"
            return AuthFailed(host.name, f"authentication failed for user {user!r} at {where} with {keys}: {e.reason}")
        if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
            return ConnectFailed(host.name, f"timed out connecting to {where} after {self.config.connect_timeout:g} s")
        if isinstance(e, ConnectionRefusedError):
            return ConnectFailed(host.name, f"connection refused by {where} (is sshd running?)")
        if isinstance(e, socket.gaierror):
            return ConnectFailed(host.name, f"cannot resolve {address!r}: {e.strerror}")
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectFailed(host.name, f"{where} is unreachable: {os.strerror(e.errno)}")
        if isinstance(e, OSError):
            return ConnectFailed(host.name, f"cannot connect to {where}: {e.strerror or e}")
        if isinstance(e, asyncssh.DisconnectError):
            return ConnectFailed(host.name, f"SSH session with {where} failed: {e.reason}")
        return ConnectFailed(host.name, f"cannot connect to {where}: {type(e).__name__}: {e}")

    def _host_key_error(
        self, host: Host, address: str, port: int, key: asyncssh.SSHKey | None, kh: asyncssh.SSHKnownHosts | None
    ) -> HostKeyMismatch:
        path = self.known_hosts_path
        offered = f"{key.get_algorithm()} {key.get_fingerprint('sha256')}" if key is not None else "an untrusted key"
        trusted = kh.match(host.name or address, address, port)[0] if kh is not None else []
        name = address if port == 22 else f"[{address}]:{port}"
        if trusted:
            listed = ", ".join(f"{k.get_algorithm()} {k.get_fingerprint('sha256')}" for k in trusted)
            return HostKeyMismatch(
                host.name,
                f"host key does not match known_hosts ({path}): {name} presented {offered}, "
                f"known_hosts has {listed}. Refusing to connect: the host may have been reinstalled "
                f"or someone may be intercepting the connection; verify, then `ssh-keygen -R {name}`",
            )
        missing = "" if path is not None and path.exists() else " (the file does not exist)"
        return HostKeyMismatch(
            host.name,
            f"host {name} is not in known_hosts ({path}{missing}); it presented {offered}. "
            f"Refusing to connect: verify the key and add it (e.g. ssh-keyscan, then compare fingerprints)",
        )

    # ------------------------------------------------------------------ operations
    _CHANNEL_ERRORS = (asyncssh.Error, OSError, EOFError)

    async def _open(self, host: Host, opener: Callable[[_Pooled], Awaitable[T]]) -> tuple[_Pooled, T]:
        """Acquire a pooled connection and open a channel on it with *opener*.

        If a reused connection turns out to be dead (the channel cannot be opened),
        it is evicted and replaced once; nothing has run remotely at that point.
        The caller must ``_release`` the returned connection.
        """
        for attempt in (1, 2):
            p, reused = await self._acquire(host)
            try:
                return p, await opener(p)
            except (asyncio.TimeoutError, TimeoutError):
                self._release(p)
                raise
            except self._CHANNEL_ERRORS as e:
                self._release(p)
                if not reused or attempt == 2:
                    if not p.alive:
                        self._evict(p)
                    raise self._session_error(host, e) from None
                log.debug("pooled SSH connection to %s died (%s); reconnecting", host.name, e)
                self._evict(p)
                self.reconnects += 1
            except BaseException:
                self._release(p)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def run(
        self, host: Host, argv: Sequence[str], *, timeout: float | None = None, stdin: str | None = None
    ) -> CommandResult:
        """Run argv (quoted with shlex.join) on *host*; *timeout* defaults to ssh.command_timeout."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(argv, str) or not argv:
            raise ValueError("argv must be a non-empty sequence of arguments, not a string")
        argv_t = tuple(str(a) for a in argv)
        command = shlex.join(argv_t)
        remote = shlex.join(["sh", "-c", _WRAPPER, "whycant", *argv_t])
        async with self._slot(host):
            p, proc = await self._open(
                host, lambda p: p.conn.create_process(remote, encoding="utf-8", errors="replace")
            )
            try:
                return await self._communicate(host, p, proc, argv_t, command, timeout, stdin)
            finally:
                self._release(p)

    async def _communicate(
        self, host: Host, p: _Pooled, proc: asyncssh.SSHClientProcess, argv: tuple[str, ...],
        command: str, timeout: float, stdin: str | None,
    ) -> CommandResult:
        t0 = time.monotonic()
        pid: list[int] = []
        err_lines: list[str] = []

        async def read_stderr() -> None:
            while True:
                line = await proc.stderr.readline()
                if not line:
                    return
                if not pid and line.startswith(_PID_MARK):
                    with contextlib.suppress(ValueError):
                        pid.append(int(line[len(_PID_MARK):].strip()))
                        continue
                err_lines.append(line)

        async def collect() -> str:
            out, _ = await asyncio.gather(proc.stdout.read(), read_stderr())
            await proc.wait_closed()
            return out

        try:
            if stdin:
                proc.stdin.write(stdin)
            proc.stdin.write_eof()
            stdout = await asyncio.wait_for(collect(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self._abort_soon(p, proc, pid)
            raise CommandTimeout(host.name, f"command timed out after {timeout:g} s (remote process killed): {command}") from None
        except asyncio.CancelledError:
            self._abort_soon(p, proc, pid)
            raise
        except self._CHANNEL_ERRORS as e:
            await self._abort(p, proc, pid)
            if not p.alive:
                self._evict(p)
            raise self._session_error(host, e) from None
        status = proc.returncode
        return CommandResult(
            host=host.name,
            argv=argv,
            stdout=stdout or "",
            stderr="".join(err_lines),
            exit_status=status if status is not None else -1,
            duration_s=time.monotonic() - t0,
        )

    def _abort_soon(self, p: _Pooled, proc: asyncssh.SSHClientProcess, pid: list[int]) -> None:
        """Signal and close the channel now; kill by PID in the background (tracked, awaited by close())."""
        task = asyncio.ensure_future(self._abort(p, proc, pid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _abort(self, p: _Pooled, proc: asyncssh.SSHClientProcess, pid: list[int]) -> None:
        """Make sure a timed-out remote command does not live on.

        Closing the channel alone does not do it: without a pty, sshd keeps the
        child running. The SSH "signal" request works for non-root users only
        (sshd refuses it for root logins, which skip post-auth privilege
        separation), so the command's PID (reported by the wrapper) is also
        killed, with its process group, over a second channel.
        """
        with contextlib.suppress(Exception):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.close()
        if not pid or not p.alive:
            return
        kill = shlex.join(["kill", "-KILL", "--", f"-{pid[0]}", str(pid[0])])
        with contextlib.suppress(Exception):
            await asyncio.wait_for(p.conn.run(kill, check=False), min(2.0, self.config.connect_timeout + 1))

    @staticmethod
    def _session_error(host: Host, e: BaseException) -> TransportError:
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        return ConnectFailed(host.name, f"SSH session failed: {reason}")

    async def _sftp(self, host: Host, p: _Pooled) -> asyncssh.SFTPClient:
        async with p.sftp_lock:
            if p.sftp is None:
                p.sftp = await p.conn.start_sftp_client()
            return p.sftp

    async def _sftp_call(self, host: Host, timeout: float, what: str,
                         fn: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """Run *fn* with the pooled connection's SFTP session (started on first use), within *timeout*."""
        async with self._slot(host):
            try:
                p, sftp = await self._open(host, lambda p: asyncio.wait_for(self._sftp(host, p), timeout))
            except (asyncio.TimeoutError, TimeoutError):
                raise CommandTimeout(host.name, f"SFTP session did not start within {timeout:g} s") from None
            try:
                return await asyncio.wait_for(fn(sftp), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                raise CommandTimeout(host.name, f"{what} timed out after {timeout:g} s") from None
            except self._CHANNEL_ERRORS as e:
                if not p.alive:
                    self._evict(p)
                else:
                    p.sftp = None  # the SFTP channel broke; start a new one next time
                raise self._session_error(host, e) from None
            finally:
                self._release(p)

    async def read_files(
        self, host: Host, paths: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, str | None]:
        """Read small text files over SFTP (no shell); missing/unreadable -> None."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        paths = list(paths)

        async def read_all(sftp: asyncssh.SFTPClient) -> list[str | None]:
            return await asyncio.gather(*(self._read_one(sftp, path) for path in paths))

        contents = await self._sftp_call(host, timeout, f"reading {len(paths)} file(s)", read_all)
        return dict(zip(paths, contents))

    async def list_dir(
        self, host: Host, paths: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, list[str] | None]:
        """Names in each directory over SFTP (no shell), sorted, without . and ..; missing/unreadable -> None."""
        timeout = self.config.command_timeout if timeout is None else timeout
        if isinstance(paths, str):
            raise ValueError("paths must be a sequence of paths, not a string")
        paths = list(paths)

        async def list_all(sftp: asyncssh.SFTPClient) -> list[list[str] | None]:
            return await asyncio.gather(*(self._list_one(sftp, path) for path in paths))

        listings = await self._sftp_call(host, timeout, f"listing {len(paths)} directory(ies)", list_all)
        return dict(zip(paths, listings))

    @staticmethod
    async def _list_one(sftp: asyncssh.SFTPClient, path: str) -> list[str] | None:
        try:
            names = await sftp.listdir(path)
        except _SFTP_GONE:
            raise
        except asyncssh.SFTPError:
            return None  # missing, permission denied, not a directory...
        return sorted(n for n in (x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in names)
                      if n not in (".", ".."))

    @staticmethod
    async def _read_one(sftp: asyncssh.SFTPClient, path: str) -> str | None:
        try:
            f = await sftp.open(path, "rb", block_size=0)
        except _SFTP_GONE:
            raise
        except asyncssh.SFTPError:
            return None  # missing, permission denied, not a file...
        try:
            chunks: list[bytes] = []
            offset = 0
            # A /proc/sys handler returns the whole value in one read (reads at an offset > 0
            # return nothing), so a short first read there is EOF: one request fewer per sysctl.
            one_shot = path.startswith(PROC_SYS)
            while True:  # /proc files report size 0: read until EOF
                data = await f.read(SFTP_CHUNK, offset)
                if not data:
                    break
                chunks.append(data)
                offset += len(data)
                if offset > SFTP_MAX_FILE:
                    return None
                if one_shot and len(data) < SFTP_CHUNK:
                    break
        except _SFTP_GONE:
            raise
        except asyncssh.SFTPError:
            return None
        finally:
            with contextlib.suppress(Exception):
                await f.close()
        return b"".join(chunks).decode("utf-8", errors="replace")

    async def close(self) -> None:
        """Close every pooled connection (after any pending remote kills)."""
        self._closed = True
        if self._background:
            await asyncio.wait(list(self._background), timeout=3)
        pooled = list(self._pool.values())
        for p in pooled:
            self._evict(p)
        for p in pooled:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.conn.wait_closed(), 2)
