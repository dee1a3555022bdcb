"""Checks every inventory string passes when loaded (names, users, groups, ports, services).

Whatever a request resolves to is made of these conservative character sets, so it is
safe on a command line, never made of characters typed in chat. Shared by the
inventory (``bot.inventory``) and the Ansible loaders (``bot.ansible_inventory``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from bot.config import ConfigError

__all__ = [
    "GROUP_RE",
    "NAME_RE",
    "SERVICE_RE",
    "USER_RE",
    "InventoryError",
    "canonical_ip",
    "check_group",
    "check_name",
    "check_port",
    "check_service",
    "check_user",
    "check_zone",
    "or_list",
    "printable",
]

# A hostname or IP address (v4/v6), a user name, a group name, a service name.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}\Z")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\Z")
GROUP_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
SERVICE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,62}\Z")
ZONE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}\Z")  # docs/zones.md (the same as config ``zones.own``)


class InventoryError(ConfigError):
    """An inventory file, host entry or vantage is invalid (names file:line or the key)."""


def printable(token: str, limit: int = 64) -> str:
    """A token as it may appear in a message: no control characters, bounded."""
    clean = "".join(c if c.isprintable() else "?" for c in token)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def or_list(items: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def canonical_ip(token: str) -> str | None:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or None."""
    t = token.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    if "%" in t:  # scoped IPv6 addresses would carry interface names from the input
        return None
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def check_port(value: Any, where: str) -> int:
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise InventoryError(f"{where}: port {printable(str(value))!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise InventoryError(f"{where}: port {port} is not in 1..65535")
    return port


def check_service(name: str, where: str) -> str:
    if not SERVICE_RE.match(name):
        raise InventoryError(f"{where}: {printable(name)!r} is not a valid service name")
    return name


def check_name(value: str, what: str, where: str) -> str:
    """A host name or an IP address (``::1`` too; no brackets, no IPv6 zone)."""
    ip_literal = "[" not in value and canonical_ip(value) is not None
    if not NAME_RE.match(value) and not ip_literal:
        raise InventoryError(f"{where}: {what} {printable(value)!r} is not a valid host name or address")
    return value


def check_user(value: str, what: str, where: str) -> str:
    if not USER_RE.match(value):
        raise InventoryError(f"{where}: {what} {printable(value)!r} is not a valid user name")
    return value


def check_zone(value: Any, where: str) -> str:
    """A zone name (``whycant_zone``): 1-32 of a-z 0-9 _ -."""
    if not isinstance(value, str) or not ZONE_RE.match(value):
        raise InventoryError(
            f"{where}: whycant_zone {printable(str(value))!r} is not a zone name (1-32 of a-z 0-9 _ -)"
        )
    return value


def check_group(value: str, what: str, where: str) -> str:
    if not GROUP_RE.match(value):
        raise InventoryError(f"{where}: {printable(value)!r} is not a valid {what} name")
    return value
