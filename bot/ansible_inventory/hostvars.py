"""One host's merged Ansible variables -> a ``probes.inventory.Host``.

Understood: ``ansible_host``, ``ansible_port``, ``ansible_user`` (and their
``ansible_ssh_*`` forms), ``ansible_connection=local``,
``ansible_ssh_private_key_file`` (and ``ansible_private_key_file``),
``ansible_ssh_common_args`` / ``ansible_ssh_extra_args`` (``-o ProxyJump=…``,
``-J …``, ``-i KEY``, ``-o ProxyCommand="ssh -W %h:%p [-p N] [-l U] [user@]jump"``),
and whycant's own ``whycant_services``, ``whycant_aliases``, ``whycant_note`` and ``whycant_zone``
(the host's network zone, docs/zones.md).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from bot.inventory_checks import (
    InventoryError,
    canonical_ip,
    check_name,
    check_port,
    check_service,
    check_user,
    check_zone,
    printable,
)
from probes.inventory import Host

__all__ = ["Vaulted", "check_proxy_jump", "host_from_vars", "parse_list", "parse_services", "ssh_args"]


class Vaulted:
    """A ``!vault`` value: whycant cannot decrypt it, and says so when it is needed."""

    def __init__(self, where: str):
        self.where = where

    def __repr__(self) -> str:
        return f"<vault-encrypted value from {self.where}>"


def _var(vars_: Mapping[str, Any], where_of: Callable[[str], str], *keys: str) -> Any:
    for k in keys:
        if k in vars_ and vars_[k] is not None:
            v = vars_[k]
            if isinstance(v, Vaulted):
                raise InventoryError(
                    f"{v.where or where_of(k)}: {k} is vault-encrypted; whycant cannot decrypt it "
                    "(give it in plain text or in whycant's own hosts: entry)"
                )
            return v
    return None


def parse_services(value: Any, where: str) -> dict[str, int]:
    """``{postgres: 5432}``, ``"{postgres: 5432}"`` or ``"postgres:5432,http:80"``."""
    if value is None:
        return {}
    items: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:
                raise InventoryError(f"{where}: whycant_services is not valid: {printable(text)}") from None
            return parse_services(loaded, where)
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = re.fullmatch(r"([^:=\s]+)\s*[:=]\s*(\S+)", part)
            if not m:
                raise InventoryError(f"{where}: whycant_services entry {printable(part)!r} is not name:port")
            items.append((m.group(1), m.group(2)))
    else:
        raise InventoryError(f"{where}: whycant_services must be a mapping of service name to port")
    out: dict[str, int] = {}
    for name, port in items:
        out[check_service(str(name), where)] = check_port(port, f"{where}: service {name}")
    return out


def parse_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


_HOP_RE = re.compile(r"(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s]+)(?::(?P<port>\d+))?\Z")


def check_proxy_jump(value: str, where: str) -> str:
    """A ProxyJump chain ``[user@]host[:port][,…]`` made of inventory-safe characters (or ``none``)."""
    value = value.strip()
    if value.lower() == "none":
        return "none"
    hops = [h.strip() for h in value.split(",")]
    for hop in hops:
        m = _HOP_RE.match(hop)
        if not hop or not m:
            raise InventoryError(f"{where}: ProxyJump hop {printable(hop)!r} is not [user@]host[:port]")
        if m.group("user"):
            check_user(m.group("user"), "ProxyJump user", where)
        check_name(m.group("host").strip("[]"), "ProxyJump host", where)
        if m.group("port"):
            check_port(m.group("port"), f"{where}: ProxyJump")
    return ",".join(hops)


def _proxy_command_jump(command: str, where: str) -> str:
    """``ssh -W %h:%p [-q] [-p N] [-l U] [user@]jump`` as a ProxyJump hop; anything else is refused."""
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise InventoryError(f"{where}: cannot parse ProxyCommand ({e})") from None
    user, port, dest, forward = None, None, None, None
    i = 1
    while argv and i < len(argv):
        a = argv[i]
        if a in ("-W", "-p", "-l", "-i", "-o") and i + 1 < len(argv):
            val = argv[i + 1]
            if a == "-W":
                forward = val
            elif a == "-p":
                port = val
            elif a == "-l":
                user = val
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        dest = a
        i += 1
    if not argv or not argv[0].endswith("ssh") or forward != "%h:%p" or dest is None:
        raise InventoryError(
            f"{where}: ProxyCommand {printable(command)!r} is not `ssh -W %h:%p JUMPHOST`; "
            "whycant only understands that form (or use -J / ProxyJump)"
        )
    if "@" in dest:
        user, _, dest = dest.rpartition("@")
    hop = f"{user}@{dest}" if user else dest
    return check_proxy_jump(f"{hop}:{port}" if port else hop, where)


def ssh_args(text: str, where: str) -> tuple[str | None, list[str]]:
    """ProxyJump and identity files from ``ansible_ssh_common_args``/``_extra_args`` text."""
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise InventoryError(f"{where}: cannot parse ssh arguments ({e})") from None
    jump: str | None = None
    keys: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in ("-J", "-o", "-i") and nxt is None:
            raise InventoryError(f"{where}: ssh option {a} needs a value")
        if a.startswith("-J"):
            jump, i = check_proxy_jump(a[2:] or str(nxt), where), i + (1 if a[2:] else 2)
            continue
        if a.startswith("-i"):
            keys.append(a[2:] or str(nxt))
            i += 1 if a[2:] else 2
            continue
        if a.startswith("-o"):
            opt = a[2:] or str(nxt)
            i += 1 if a[2:] else 2
            m = re.match(r"\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)\Z", opt, re.DOTALL)  # ssh_config: Key=Value or Key Value
            key, val = (m.group(1).lower(), m.group(2).strip()) if m else (opt.strip().lower(), "")
            if key == "proxyjump":
                jump = check_proxy_jump(val, where)
            elif key == "proxycommand":
                jump = "none" if val.lower() == "none" else _proxy_command_jump(val, where)
            elif key == "identityfile":
                keys.append(val)
            continue
        i += 1
    return jump, keys


def host_from_vars(
    name: str, v: Mapping[str, Any], groups: set[str], where: str, origins: Mapping[str, str] | None = None
) -> Host:
    """The Host for merged vars *v*; errors name the file a bad variable came from."""
    origin = origins or {}

    def where_of(key: str) -> str:
        return origin.get(key, where)

    def var(*keys: str) -> Any:
        return _var(v, where_of, *keys)

    def first_key(*keys: str) -> str:
        return next((k for k in keys if v.get(k) is not None), keys[0])

    address = var("ansible_host", "ansible_ssh_host")
    if address is not None:
        address = check_name(str(address), "ansible_host", where_of(first_key("ansible_host", "ansible_ssh_host")))
    else:
        address = name
    port_v = var("ansible_port", "ansible_ssh_port")
    port = (
        check_port(port_v, f"{where_of(first_key('ansible_port', 'ansible_ssh_port'))}: ansible_port")
        if port_v is not None
        else 22
    )
    user = var("ansible_user", "ansible_ssh_user")
    if user is not None:
        check_user(str(user), "ansible_user", where_of(first_key("ansible_user", "ansible_ssh_user")))
    conn = str(var("ansible_connection") or "ssh")
    jump: str | None = None
    keys: list[str] = []
    for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):  # extra_args come later on ssh's line
        text = var(key)
        if text:
            j, k = ssh_args(str(text), where_of(key))
            jump, keys = (j if j is not None else jump), keys + k
    key_file = var("ansible_ssh_private_key_file", "ansible_private_key_file")
    if key_file is not None:
        keys.insert(0, str(key_file))
    aliases = [check_name(a, "alias", where_of("whycant_aliases")) for a in parse_list(var("whycant_aliases"))]
    if address != name and canonical_ip(address) is None:
        aliases.append(address)  # ansible_host given as a DNS name: an alias too
    note = var("whycant_note")
    zone = var("whycant_zone")
    if zone is not None:
        zone = check_zone(zone, where_of("whycant_zone"))
    return Host(
        name=name,
        address=address,
        port=port,
        user=str(user) if user is not None else None,
        transport="local" if conn == "local" else "ssh",
        groups=tuple(sorted(g for g in groups if g not in ("all", "ungrouped"))),
        services=parse_services(var("whycant_services"), where_of("whycant_services")),
        aliases=tuple(dict.fromkeys(aliases)),
        note=str(note) if note is not None else None,
        proxy_jump=None if jump == "none" else jump,
        client_keys=tuple(dict.fromkeys(keys)),
        zone=zone,
    )
