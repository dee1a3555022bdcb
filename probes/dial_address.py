"""Which IP address a connect test dials.

- ``resolve_address``: an inventory address that is a DNS name is resolved with
  ``getaddrinfo`` (in the event loop's default executor, bounded by a timeout), so
  connect tests dial the literal IP the name stands for; a name that does not
  resolve is a ``ResolveFailed`` for that host.
- ``self_dial_address``: the target's own connect test dials what the service
  listens on (its LISTEN sockets on the port): loopback for a wildcard or
  loopback socket, else the specific address it is bound to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

from probes.errors import WhycantError
from probes.evidence import Listener

__all__ = ["DNS_TIMEOUT_S", "ResolveFailed", "resolve_address", "self_dial_address"]

DNS_TIMEOUT_S = 5.0


class ResolveFailed(WhycantError):
    """An inventory host's DNS name did not resolve (or not in time)."""

    kind = "dns"

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"cannot resolve {name}: {reason}")


def _literal(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return None


async def resolve_address(address: str, timeout: float = DNS_TIMEOUT_S) -> str:
    """*address* itself when it is an IP literal; else the first address getaddrinfo gives."""
    literal = _literal(address)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(address, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout
        )
    except TimeoutError:
        raise ResolveFailed(address, f"no answer within {timeout:g} s") from None
    except socket.gaierror as e:
        raise ResolveFailed(address, e.strerror or str(e)) from None
    except (UnicodeError, OSError) as e:
        raise ResolveFailed(address, str(e)) from None
    for _family, _type, _proto, _canon, sockaddr in infos:
        literal = _literal(str(sockaddr[0]))
        if literal is not None:
            return literal
    raise ResolveFailed(address, "no IPv4 or IPv6 address")


def self_dial_address(listeners: Sequence[Listener] | None, port: int, own: Sequence[str] = ()) -> str:
    """The address the target dials to test itself on *port*.

    A wildcard socket (``0.0.0.0``/``*``: 127.0.0.1; ``::`` alone: ::1) or a loopback one is
    dialled on loopback; a socket bound to one specific address is dialled there (one of
    *own*, the addresses the vantages dial, first). No listener: 127.0.0.1 (refused, truly).
    """
    on_port = [li for li in (listeners or []) if li.port == port]
    if not on_port or any(li.local_address in ("0.0.0.0", "*") for li in on_port):
        return "127.0.0.1"
    if any(li.local_address == "::" for li in on_port):
        return "::1"
    addresses = [a for a in (_literal(li.local_address) for li in on_port) if a is not None]
    loopback = [a for a in addresses if ipaddress.ip_address(a).is_loopback]
    if loopback:
        return loopback[0]
    wanted = [a for a in (_literal(o) for o in own) if a is not None]
    for a in addresses:
        if a in wanted:
            return a
    return addresses[0] if addresses else "127.0.0.1"
