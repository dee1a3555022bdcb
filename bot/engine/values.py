"""Plain values as rules, fixes and reports show them: sysctl values (``fmt_value``), kernel releases
(``kernel_tuple``), loopback addresses. Pure; shared by the engine, drift and the renderers."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_KERNEL_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def kernel_tuple(release: str | None) -> tuple[int, int, int] | None:
    """``5.15.0-91-generic`` -> (5, 15, 0); None when absent or unreadable."""
    if not release:
        return None
    m = _KERNEL_RE.match(release.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def fmt_value(v: Any) -> str:
    """A sysctl value as ``sysctl -w`` and sysctl.d files spell it (vectors space-separated)."""
    if v is None:
        return "(absent)"
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return str(v)


def is_loopback(addr: str | None) -> bool:
    """A loopback address (``127.0.0.1``, ``[::1]``, ``localhost``)."""
    if not addr:
        return False
    a = addr.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return a in ("localhost",)
