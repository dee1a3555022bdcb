"""Run a command under a name resolver the test controls, never real DNS.

``unshare --mount`` gives the command a private mount namespace in which a temp
``/etc/hosts`` (the test's names, under reserved suffixes such as ``.test``),
an ``/etc/nsswitch.conf`` with ``hosts: files`` and an empty ``/etc/resolv.conf``
are bind-mounted over the real ones: names resolve from that file only and no
DNS query is sent anywhere. The mounts vanish with the command. Needs root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

__all__ = ["resolver_unavailable_reason", "with_hosts"]

_SCRIPT = (
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf && '
    'mount --bind "$3" /etc/resolv.conf && shift 3 && exec "$@"'
)


def resolver_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (unshare --mount, bind mounts)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    for f in ("/etc/hosts", "/etc/nsswitch.conf", "/etc/resolv.conf"):
        if not Path(f).exists():
            return f"{f} does not exist to bind-mount over"
    return None


def with_hosts(tmp: Path, names: Mapping[str, str]) -> list[str]:
    """The argv prefix that runs a command with only *names* (name -> address) resolvable."""
    for name in names:
        assert name.endswith((".test", ".invalid", ".example")), f"{name}: use a reserved suffix"
    tmp.mkdir(parents=True, exist_ok=True)
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in names.items()))
    nss = tmp / "nsswitch.conf"
    nss.write_text("hosts: files\n")
    resolv = tmp / "resolv.conf"
    resolv.write_text("")
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        _SCRIPT,
        "sh",
        str(hosts),
        str(nss),
        str(resolv),
    ]
