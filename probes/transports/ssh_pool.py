"""Pooled SSH connections, jump hosts included (docs/ssh.md).

- One connection per hop key (address, port, user, and the jump hops before it),
  reused across calls; keepalive; closed after ``idle_timeout`` seconds unused
  (0 = never); a jump connection stays open while connections tunnelled through it do.
- At most ``pool_max`` pooled connections: before a new one joins a full pool, the least
  recently used idle ones are closed (never one in use, nor a jump host that pooled
  connections go through). When every pooled connection is busy the pool grows past the
  cap for a while and shrinks back as they are released.
- Jump hosts (``Route.jumps``) are connected first, through each other, and the
  target is reached with asyncssh's ``tunnel=`` over the pooled jump connection: the
  hosts behind one bastion share one connection to it. A jump host that fails is named
  as such (``JumpHostFailed``: "bastion01 (jump host for db07) ..."), not the target.
- ``connect_timeout`` covers TCP connect, SSH banner, key exchange and auth of each
  hop; a server that accepts TCP but never completes the handshake is named as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from probes.errors import (
    AuthFailed,
    ConnectFailed,
    HostKeyMismatch,
    JumpHostFailed,
    TransportError,
)
from probes.transports.ssh_hostkeys import (
    KnownHostsCache,
    host_key_error,
    key_types_error,
)
from probes.transports.ssh_route import Hop, HopKey, Route
from probes.transports.ssh_settings import SSHSettings
from probes.transports.ssh_wire import cipher_list, coalesce_writes

log = logging.getLogger("probes.transports.ssh")


class _Client(asyncssh.SSHClient):
    """Remembers the host key a server presented when known_hosts did not trust it, and how far
    the connection got (TCP up, SSH banner seen)."""

    def __init__(self) -> None:
        self.untrusted_key: asyncssh.SSHKey | None = None
        self.lost = False
        self.conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.conn = conn

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.untrusted_key = key
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    @property
    def banner(self) -> str | None:
        return self.conn.get_extra_info("server_version") if self.conn is not None else None


@dataclass(eq=False)
class Pooled:
    key: HopKey
    hop: Hop
    conn: asyncssh.SSHClientConnection
    client: _Client
    jump: Pooled | None = None
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    in_use: int = 0
    dependents: int = 0  # pooled connections tunnelled through this one
    uses: int = 0
    sftp: asyncssh.SFTPClient | None = None
    sftp_missing: str | None = None  # why SFTP is unavailable on this connection (then files go over exec)
    sftp_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idle_handle: asyncio.TimerHandle | None = None

    @property
    def alive(self) -> bool:
        return not self.client.lost and not self.conn.is_closed() and (self.jump is None or self.jump.alive)


class ConnectionPool:
    """Connections to the hops of routes, shared by every caller (see the module docstring)."""

    def __init__(self, settings: SSHSettings):
        self.s = settings
        self._pool: dict[HopKey, Pooled] = {}
        self._connecting: dict[HopKey, asyncio.Future[Pooled]] = {}
        self._known_hosts = KnownHostsCache()
        self._keys: dict[tuple[str, ...], list[asyncssh.SSHKey]] = {}
        self._ciphers = cipher_list()
        self.closed = False
        self.connects = 0
        self.cap_evictions = 0  # idle connections closed to stay under pool_max

    @property
    def size(self) -> int:
        """Pooled connections now (jump hosts included)."""
        return len(self._pool)

    def get(self, key: HopKey) -> Pooled | None:
        p = self._pool.get(key)
        return p if p is not None and p.alive else None

    # ------------------------------------------------------------------ acquire / release
    async def acquire(self, route: Route, for_host: str, idx: int | None = None) -> tuple[Pooled, bool]:
        """A live pooled connection to hop *idx* of *route* (default: the target), marked in use,
        and whether it was reused."""
        if self.closed:
            raise TransportError(for_host, "transport is closed")
        n = len(route.jumps) if idx is None else idx
        key = route.key(n)
        p = self._pool.get(key)
        if p is not None and not p.alive:
            self.evict(p)
            p = None
        reused = p is not None
        while p is None:
            p = self._pool.get(key)
            if p is not None:
                if p.alive:
                    break
                self.evict(p)
                p = None
            fut = self._connecting.get(key)
            if fut is not None:
                # another task is connecting to this hop: share its result (or its error)
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
                p = await self._connect(route, n, for_host)
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

    def release(self, p: Pooled) -> None:
        p.in_use -= 1
        p.last_used = time.monotonic()
        if len(self._pool) > self.s.pool_max:  # it grew past the cap while everything was busy
            self.make_room(0)
        if self._pool.get(p.key) is p:
            self._maybe_idle(p)

    def make_room(self, adding: int = 1) -> int:
        """Close least recently used idle connections until *adding* more fit under ``pool_max``.

        Idle: not in use and no pooled connection tunnelled through it. Returns how many were closed."""
        closed = 0
        while len(self._pool) + adding > self.s.pool_max:
            idle = [p for p in self._pool.values() if p.in_use == 0 and p.dependents == 0]
            if not idle:
                break  # everything is busy: the pool shrinks back on release
            p = min(idle, key=lambda p: p.last_used)
            log.debug(
                "SSH pool full (%d): closing the least recently used idle connection to %s",
                self.s.pool_max,
                p.hop.where,
            )
            self.evict(p)  # its jump host stays (idle now, closed later if still needed for room)
            closed += 1
            self.cap_evictions += 1
        return closed

    def _maybe_idle(self, p: Pooled) -> None:
        if (
            p.in_use == 0
            and p.dependents == 0
            and self.s.idle_timeout > 0
            and self._pool.get(p.key) is p
            and p.idle_handle is None
            and not self.closed
        ):
            with contextlib.suppress(RuntimeError):
                loop = asyncio.get_running_loop()
                p.idle_handle = loop.call_later(self.s.idle_timeout, self._idle_close, p)

    def _idle_close(self, p: Pooled) -> None:
        p.idle_handle = None
        if p.in_use == 0 and p.dependents == 0 and self._pool.get(p.key) is p:
            log.debug("closing idle SSH connection to %s", p.hop.where)
            self.evict(p)

    def evict(self, p: Pooled) -> None:
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
        if p.jump is not None:
            j, p.jump = p.jump, None
            j.dependents -= 1
            if not j.alive:
                self.evict(j)
            else:
                self._maybe_idle(j)

    async def close(self) -> None:
        self.closed = True
        pooled = list(self._pool.values())
        # targets before the jump hosts they go through
        for p in sorted(pooled, key=lambda p: -len(p.key[3])):
            self.evict(p)
        for p in pooled:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.conn.wait_closed(), 2)

    # ------------------------------------------------------------------ connect
    def _client_keys(self, hop: Hop, for_host: str) -> list[asyncssh.SSHKey] | None:
        if not hop.client_keys:
            return None  # asyncssh defaults: ~/.ssh/id_* and the agent
        keys = self._keys.get(hop.client_keys)
        if keys is None:
            keys = []
            for path in hop.client_keys:
                try:
                    keys.append(asyncssh.read_private_key(path))
                except (OSError, asyncssh.KeyImportError) as e:
                    why = getattr(e, "strerror", None) or str(e)
                    if isinstance(e, PermissionError):
                        why = f"not readable by this process ({why})"
                    raise AuthFailed(for_host, f"cannot load SSH client key {path}: {why}") from None
            self._keys[hop.client_keys] = keys
        return keys

    async def _connect(self, route: Route, idx: int, for_host: str) -> Pooled:
        hops = (*route.jumps, route.target)
        hop = hops[idx]
        jump: Pooled | None = None
        if idx > 0:
            try:
                jump, _ = await self.acquire(route, for_host, idx - 1)
            except JumpHostFailed as e:
                if e.host != for_host:  # shared from another target's connect: name ours
                    raise JumpHostFailed(for_host, e.message, jump_host=e.jump_host, cause=e.cause) from None
                raise
            except TransportError as e:
                raise self._jump_error(for_host, hops[idx - 1], e) from None
        try:
            # errors name the hop itself: a pooled connect is shared by every route through it
            p = await self._connect_hop(hop, route.key(idx), jump)
        finally:
            if jump is not None:
                self.release(jump)
        if jump is not None:
            jump.dependents += 1
            p.jump = jump
        return p

    async def _connect_hop(self, hop: Hop, key: HopKey, jump: Pooled | None) -> Pooled:
        for_host = hop.name
        kh = self._known_hosts.get(hop.known_hosts) if hop.known_hosts is not None else None
        keys = self._client_keys(hop, for_host)
        opts: dict[str, Any] = dict(
            port=hop.port,
            username=hop.user,
            known_hosts=kh,
            client_keys=keys if keys is not None else (),
            passphrase=None,
            password=None,
            preferred_auth="publickey",
            config=None,  # the OpenSSH config was applied when the route was built
            connect_timeout=self.s.connect_timeout,
            login_timeout=self.s.connect_timeout,
            keepalive_interval=self.s.keepalive_interval,  # 0 disables
            keepalive_count_max=3,
            encryption_algs=self._ciphers,
            compression_algs=None,
        )
        if jump is not None:
            opts["tunnel"] = jump.conn
        if keys is not None:
            opts["agent_path"] = None
        # known_hosts entries may name the host (as `ssh db01` would record it) or its address;
        # a host certificate's principals are tried against the name, then the address
        aliases: list[str | None] = [None]
        if kh is not None and hop.name and hop.name != hop.address:
            aliases = [hop.name, None]
        for n, alias in enumerate(aliases):
            client = _Client()
            if alias:
                opts["host_key_alias"] = alias
            else:
                opts.pop("host_key_alias", None)
            try:
                conn = await asyncio.wait_for(
                    asyncssh.connect(hop.address, client_factory=lambda c=client: c, **opts),
                    self.s.connect_timeout + 1.0,
                )
            except asyncssh.HostKeyNotVerifiable as e:
                if "principal" in str(e).lower() and n + 1 < len(aliases):
                    continue
                raise self._host_key_error(for_host, hop, client, kh, e) from None
            except Exception as e:
                raise self.connect_error(for_host, hop, client, kh, e, jump) from None
            break
        coalesce_writes(conn)
        self.connects += 1
        p = Pooled(key, hop, conn, client)
        self.make_room(1)
        self._pool[key] = p
        log.debug("SSH connected to %s@%s (%s)", hop.user, hop.where, conn.get_extra_info("send_cipher"))
        return p

    @staticmethod
    def _jump_error(for_host: str, hop: Hop, err: TransportError) -> JumpHostFailed:
        """*err* of jump host *hop*, as the failure of the route to *for_host*."""
        msg = err.message
        prefix = f"{hop.name} (jump host for {for_host})"
        if not msg.startswith(prefix):
            msg = f"{prefix}: {msg}"
        return JumpHostFailed(for_host, msg, jump_host=hop.name, cause=err.kind)

    @staticmethod
    def _host_key_error(
        for_host: str, hop: Hop, client: _Client, kh: asyncssh.SSHKnownHosts | None, e: Exception
    ) -> TransportError:
        if kh is None:  # pragma: no cover - checking off: asyncssh does not verify
            return HostKeyMismatch(for_host, str(e))
        return host_key_error(for_host, hop, client.untrusted_key, kh, getattr(e, "reason", str(e)))

    def connect_error(
        self,
        for_host: str,
        hop: Hop,
        client: _Client,
        kh: asyncssh.SSHKnownHosts | None,
        e: Exception,
        jump: Pooled | None,
    ) -> TransportError:
        where = hop.where
        via = f" through jump host {jump.hop.name}" if jump is not None else ""
        if isinstance(e, asyncssh.HostKeyNotVerifiable):
            return self._host_key_error(for_host, hop, client, kh, e)
        if isinstance(e, asyncssh.KeyExchangeFailed) and kh is not None and "host key" in str(e).lower():
            err = key_types_error(for_host, hop, kh)
            if err is not None:
                return err
        if isinstance(e, asyncssh.PermissionDenied):
            keys = ", ".join(hop.client_keys) or "default keys (~/.ssh/id_*) and agent"
            return AuthFailed(
                for_host, f"authentication failed for user {hop.user!r} at {where}{via} with {keys}: {e.reason}"
            )
        if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
            t = f"{self.s.connect_timeout:g} s"
            if client.conn is not None and not client.banner:
                return ConnectFailed(
                    for_host,
                    f"{where}{via} accepted the TCP connection but sent no SSH banner "
                    f"within {t} (sshd stalled, overloaded, or not an SSH server)",
                )
            if client.banner:
                return ConnectFailed(
                    for_host, f"{where} ({client.banner}){via} did not complete the SSH handshake and login within {t}"
                )
            return ConnectFailed(for_host, f"timed out connecting to {where}{via} after {t}")
        if isinstance(e, asyncssh.ChannelOpenError):
            # the jump host could not open the TCP connection onwards
            return ConnectFailed(
                for_host,
                f"jump host {jump.hop.name if jump else '?'} could not open a connection "
                f"to {where} ({e.reason}: the target is down or unreachable from "
                f"there, or TCP forwarding is disabled on the jump host)",
            )
        if isinstance(e, ConnectionRefusedError):
            return ConnectFailed(for_host, f"connection refused by {where}{via} (is sshd running?)")
        if isinstance(e, socket.gaierror):
            return ConnectFailed(for_host, f"cannot resolve {hop.address!r}: {e.strerror}")
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectFailed(for_host, f"{where} is unreachable{via}: {os.strerror(e.errno)}")
        if isinstance(e, OSError):
            return ConnectFailed(for_host, f"cannot connect to {where}{via}: {e.strerror or e}")
        if isinstance(e, asyncssh.DisconnectError):
            return ConnectFailed(for_host, f"SSH session with {where}{via} failed: {e.reason}")
        return ConnectFailed(for_host, f"cannot connect to {where}{via}: {type(e).__name__}: {e}")
