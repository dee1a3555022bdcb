"""Host keys as OpenSSH judges them: known_hosts files (cached by mtime) and the
errors a refused host key turns into.

- A key listed for the host (by inventory name or address) is trusted; a
  ``@cert-authority`` line trusts host certificates whose principals name the
  host (the transport tries the inventory name, then the address).
- A ``@revoked`` key is reported as revoked: never "mismatch, run ssh-keygen -R".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import asyncssh

from probes.errors import HostKeyMismatch
from probes.transports.ssh_route import Hop

log = logging.getLogger("probes.transports.ssh")


class HostKeyRevoked(HostKeyMismatch):
    kind = "host-key-revoked"


class KnownHostsCache:
    """Parsed known_hosts files, re-read when a file changes."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], tuple[tuple[float | None, ...], asyncssh.SSHKnownHosts]] = {}

    def get(self, paths: tuple[str, ...]) -> asyncssh.SSHKnownHosts:
        mtimes = tuple(_mtime(p) for p in paths)
        hit = self._cache.get(paths)
        if hit is not None and hit[0] == mtimes:
            return hit[1]
        text = []
        for p, m in zip(paths, mtimes, strict=True):
            if m is None:
                continue
            try:
                text.append(Path(p).read_text())
            except (OSError, UnicodeDecodeError) as e:
                log.error("cannot read known_hosts %s: %s; its keys are not trusted", p, e)
        try:
            kh = asyncssh.import_known_hosts("\n".join(text))
        except (ValueError, asyncssh.Error) as e:
            log.error("cannot parse known_hosts %s: %s; no host will be trusted", ", ".join(paths), e)
            kh = asyncssh.import_known_hosts("")
        self._cache[paths] = (mtimes, kh)
        return kh


def _mtime(p: str) -> float | None:
    try:
        return os.stat(p).st_mtime
    except OSError:
        return None


def _fp(key: asyncssh.SSHKey) -> str:
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


def host_key_error(
    for_host: str, hop: Hop, key: asyncssh.SSHKey | None, kh: asyncssh.SSHKnownHosts, reason: str
) -> HostKeyMismatch:
    """The error for a host key asyncssh refused (*reason* is asyncssh's own wording)."""
    files = ", ".join(hop.known_hosts or ())
    name = hop.address if hop.port == 22 else f"[{hop.address}]:{hop.port}"
    who = hop.name if hop.name == for_host else f"{hop.name} (jump host for {for_host})"
    offered = _fp(key) if key is not None else "an untrusted key"
    trusted, _cas, revoked = _match(kh, hop)
    if "revoked" in reason.lower() or (key is not None and key in revoked):
        what = "host CA key" if "ca key" in reason.lower() else "host key"
        return HostKeyRevoked(
            for_host,
            f"{who}: the {what} {name} presented ({offered}) is marked @revoked in known_hosts ({files}). "
            f"Refusing to connect. Do not remove the entry: the host needs a new host key "
            f"(or someone is presenting a retired one)",
        )
    if "principal" in reason.lower() or "certificate" in reason.lower():
        return HostKeyMismatch(
            for_host,
            f"{who}: the host certificate {name} presented is not valid for {hop.name} or {hop.address} "
            f"({reason}); refusing to connect",
        )
    if "ca key is not trusted" in reason.lower():
        return HostKeyMismatch(
            for_host,
            f"{who}: {name} presented a host certificate signed by a CA that no @cert-authority "
            f"line in known_hosts ({files}) trusts for it; refusing to connect",
        )
    if trusted:
        listed = ", ".join(_fp(k) for k in trusted)
        return HostKeyMismatch(
            for_host,
            f"{who}: host key does not match known_hosts ({files}): {name} presented {offered}, "
            f"known_hosts has {listed}. Refusing to connect: the host may have been reinstalled "
            f"or someone may be intercepting the connection; verify, then `ssh-keygen -R {name}`",
        )
    missing = "" if any(os.path.exists(p) for p in hop.known_hosts or ()) else " (the file does not exist)"
    return HostKeyMismatch(
        for_host,
        f"{who}: host {name} is not in known_hosts ({files}{missing}); it presented {offered}. "
        f"Refusing to connect: verify the key and add it (e.g. ssh-keyscan, then compare fingerprints)",
    )


def key_types_error(for_host: str, hop: Hop, kh: asyncssh.SSHKnownHosts) -> HostKeyMismatch | None:
    """When key exchange failed because the server offers none of the key types known_hosts lists."""
    trusted, _, _ = _match(kh, hop)
    if not trusted:
        return None
    types = ", ".join(sorted({k.get_algorithm() for k in trusted}))
    return HostKeyMismatch(
        for_host,
        f"host key does not match known_hosts ({', '.join(hop.known_hosts or ())}): the server at {hop.where} "
        f"offers none of the key types known_hosts lists for it ({types}); refusing to connect",
    )


def _match(kh: asyncssh.SSHKnownHosts, hop: Hop) -> tuple[list, list, list]:
    port = None if hop.port == 22 else hop.port
    res = kh.match(hop.name, hop.address, port)
    extra = kh.match(hop.address, hop.address, port) if hop.name != hop.address else res
    return (
        list(dict.fromkeys([*res[0], *extra[0]])),
        list(dict.fromkeys([*res[1], *extra[1]])),
        list(dict.fromkeys([*res[2], *extra[2]])),
    )
