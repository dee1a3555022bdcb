"""Where and how to log in to a host: its hops (jump hosts first, target last).

Inputs, most specific first: the inventory ``Host`` (address, port, user,
``proxy_jump``, ``client_keys``), the OpenSSH client config read by asyncssh's own
parser (``Host``/``Match``, ``HostName``, ``Port``, ``User``, ``IdentityFile``,
``ProxyJump``, ``UserKnownHostsFile``), then ``SSHSettings`` (``user``, ``client_keys``,
``known_hosts``, ``proxy_jump``). A jump host named by inventory name takes that host's
address, port, user, keys and known_hosts; otherwise ``[user@]host[:port]`` as OpenSSH
writes it. Pure: no I/O besides reading the OpenSSH config files.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from typing import Any, Mapping

from asyncssh.config import SSHClientConfig
from asyncssh.misc import Error as AsyncSSHError

from probes.errors import TransportError
from probes.inventory import Host
from probes.transports.ssh_settings import DEFAULT_KNOWN_HOSTS, SSHSettings

HopKey = tuple[str, int, str, tuple[tuple[str, int, str], ...]]
_JUMP_RE = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>\d{1,5}))?$"
)
MAX_JUMPS = 8


class SSHConfigError(TransportError):
    """The OpenSSH config or a ProxyJump value cannot be used."""

    kind = "ssh-config"


@dataclass(frozen=True)
class Hop:
    """One SSH login: the target or a jump host on the way."""

    name: str  # inventory name, or the jump spec as written
    address: str
    port: int
    user: str
    client_keys: tuple[str, ...] = ()  # key files; () = asyncssh defaults (~/.ssh/id_*, agent)
    known_hosts: tuple[str, ...] | None = (DEFAULT_KNOWN_HOSTS,)  # None = host key checking off

    @property
    def where(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class Route:
    """The hops to *target*: ``jumps`` outermost first."""

    target: Hop
    jumps: tuple[Hop, ...] = ()

    def key(self, upto: int | None = None) -> HopKey:
        """Pool key of the connection to hop *upto* (default: the target) along this route."""
        hops = (*self.jumps, self.target)
        n = len(hops) - 1 if upto is None else upto
        h = hops[n]
        return (h.address, h.port, h.user, tuple((j.address, j.port, j.user) for j in hops[:n]))


class RouteResolver:
    """Builds the :class:`Route` to an inventory host (cached per host)."""

    def __init__(self, settings: SSHSettings, hosts: Mapping[str, Host] | None = None):
        self.s = settings
        self.hosts = dict(hosts or {})
        self._paths = settings.openssh_config_paths()
        self._cache: dict[Host, Route] = {}
        try:
            self._local_user = getpass.getuser()
        except (KeyError, OSError):  # pragma: no cover - no passwd entry
            self._local_user = "root"

    def _lookup(self, name: str, host_for_errors: str) -> Any:
        """The OpenSSH config as it applies to ``ssh NAME`` (an empty config when none is read)."""
        try:
            return SSHClientConfig.load(None, self._paths, False, False, False, self._local_user, (), name, ())
        except (AsyncSSHError, OSError, ValueError) as e:
            files = ", ".join(self._paths)
            raise SSHConfigError(host_for_errors, f"cannot use the OpenSSH config ({files}): {e}") from None

    def _known_hosts(self, cfg: Any) -> tuple[str, ...] | None:
        if not self.s.host_key_checking:
            return None
        if self.s.known_hosts:
            return (str(self.s.path(self.s.known_hosts)),)
        files = cfg.get("UserKnownHostsFile") or [DEFAULT_KNOWN_HOSTS]
        return tuple(str(self.s.path(f)) for f in files)

    def _hop(
        self, name: str, address: str | None, port: int | None, user: str | None, keys: tuple[str, ...], for_host: str
    ) -> tuple[Hop, Any]:
        cfg = self._lookup(name, for_host)
        identity = tuple(keys) or tuple(cfg.get("IdentityFile") or ()) or tuple(self.s.client_keys)
        hop = Hop(
            name=name,
            address=address or cfg.get("Hostname") or name,
            port=port or int(cfg.get("Port") or 22),
            user=user or cfg.get("User") or self.s.user or self._local_user,
            client_keys=tuple(str(self.s.path(k)) for k in identity),
            known_hosts=self._known_hosts(cfg),
        )
        return hop, cfg

    def _host_hop(self, host: Host) -> tuple[Hop, Any]:
        # the inventory address wins unless it merely repeats the name (then HostName applies);
        # port 22 in the inventory counts as "not set" so a config Port can apply
        address = host.address if host.address != host.name else None
        return self._hop(
            host.name, address, host.port if host.port != 22 else None, host.user, host.client_keys, host.name
        )

    def _jump(self, spec: str, for_host: str) -> Hop:
        if spec in self.hosts:
            return self._host_hop(self.hosts[spec])[0]
        m = _JUMP_RE.match(spec)
        if not m:
            raise SSHConfigError(for_host, f"proxy_jump {spec!r} is neither an inventory host nor [user@]host[:port]")
        hname = m["host"].strip("[]")
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise SSHConfigError(for_host, f"proxy_jump {spec!r}: port {port} is not in 1..65535")
        return self._hop(hname, None, port, m["user"], (), for_host)[0]

    def route(self, host: Host) -> Route:
        got = self._cache.get(host)
        if got is not None:
            return got
        target, cfg = self._host_hop(host)
        spec = host.proxy_jump or cfg.get("ProxyJump") or self.s.proxy_jump
        jumps: tuple[Hop, ...] = ()
        if spec and spec.strip().lower() != "none":
            parts = [p.strip() for p in spec.split(",") if p.strip()]
            if len(parts) > MAX_JUMPS:
                raise SSHConfigError(host.name, f"proxy_jump {spec!r}: more than {MAX_JUMPS} jump hosts")
            if host.name in parts:
                raise SSHConfigError(host.name, f"proxy_jump {spec!r} names the host itself")
            jumps = tuple(self._jump(p, host.name) for p in parts)
        route = Route(target, jumps)
        self._cache[host] = route
        return route
