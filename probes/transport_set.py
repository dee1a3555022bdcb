"""Which transport reaches a host: local for the bot's own host, SSH otherwise, per-host overrides
(tests, replays); each handed out behind the per-target limiter when one is set (probes/limits.py)."""

from __future__ import annotations

from probes.errors import TransportError
from probes.inventory import Host
from probes.limits import LimitedTransport, TargetLimiter
from probes.transports.base import Transport
from probes.transports.local import LocalTransport


class TransportSet:
    """Picks the transport for a host: local for the bot's own host, SSH otherwise."""

    def __init__(
        self,
        ssh: Transport | None = None,
        local: Transport | None = None,
        overrides: dict[str, Transport] | None = None,
    ):
        self.ssh = ssh
        self.local = local or LocalTransport()
        self.overrides = overrides or {}
        self.limiter: TargetLimiter | None = None  # set: every transport handed out honours its channel caps

    def for_host(self, host: Host) -> Transport:
        t = self._for_host(host)
        return LimitedTransport(t, self.limiter) if self.limiter is not None else t

    def _for_host(self, host: Host) -> Transport:
        if host.name in self.overrides:
            return self.overrides[host.name]
        if host.is_local:
            return self.local
        if self.ssh is None:
            raise TransportError(host.name, "SSH transport is not configured")
        return self.ssh

    def jump_hosts(self, host: Host) -> tuple[str, ...]:
        """The jump hosts on *host*'s SSH route (``proxy_jump`` from the inventory, ``ProxyJump`` from
        the OpenSSH client config, ``ssh.proxy_jump``); () for a local host, an override, a transport
        without routes, or a route that cannot be worked out (its probe will name that error)."""
        route = getattr(self.ssh, "route", None)
        if host.name in self.overrides or host.is_local or not callable(route):
            return ()
        try:
            return tuple(j.name for j in route(host).jumps)
        except TransportError:  # a bad ProxyJump / OpenSSH config: the probe names it, not this
            return ()

    async def close(self) -> None:
        for t in {id(t): t for t in [self.ssh, self.local, *self.overrides.values()] if t}.values():
            await t.close()
