"""The inventory: the only hosts whycant will ever probe (docs/architecture.md §Front ends and contracts, §Configuration).

Hosts come from the config's ``hosts:`` and from Ansible inventory sources listed in
``inventory:`` (``bot.ansible_inventory``: INI, YAML, group_vars/host_vars, dynamic
scripts, ``ansible-inventory`` output and plugins; docs/inventory.md); the config's own
entries win over Ansible for the same name (groups, services and aliases are merged).
Every name, alias, address, service and vantage name is checked against a conservative
character set when loaded (``bot.inventory_checks``), so whatever a request resolves to
is made of inventory characters that are safe on a command line, never of characters
typed in chat.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.ansible_inventory import (
    MAX_RANGE_HOSTS,
    expand_hostname_range,
    load_ansible_inventory,
)
from bot.inventory_checks import (
    GROUP_RE,
    USER_RE,
    InventoryError,
    canonical_ip,
    check_name,
    check_service,
    or_list,
    printable,
)
from probes.errors import BadInput
from probes.inventory import Host

if TYPE_CHECKING:  # pragma: no cover
    from bot.config import Config

__all__ = [
    "BOT_VANTAGE",
    "MAX_RANGE_HOSTS",
    "Inventory",
    "InventoryError",
    "UnknownHost",
    "UnknownVantage",
    "Vantage",
    "expand_hostname_range",
    "load_ansible_inventory",
    "with_bot_vantage",
]

BOT_VANTAGE = "bot"
_NAT_RE = re.compile(r"\bnat(?:ted|'d|ed)?\b", re.IGNORECASE)


def declares_jump(host: Host | None) -> bool:
    """Whether *host*'s own ``proxy_jump`` names a jump host (``none`` means direct)."""
    jump = host.proxy_jump if host is not None else None
    return bool(jump) and str(jump).lower() != "none"


def with_bot_vantage(
    names: Iterable[str], target: Host | None, *, explicit_bot: bool = False, behind_jump: bool | None = None
) -> list[str]:
    """*names* with ``bot`` first, except for a target reached through a jump host: the bot
    has no direct path to it by design, so its connect row would only time out (a false
    "filtered from bot"). There ``bot`` is left out unless asked for by name (*explicit_bot*)
    or no other vantage remains. *behind_jump* is ``Inventory.behind_jump(target)`` (the
    route SSH will take); None reads the target's own ``proxy_jump`` (``declares_jump``)."""
    others = [n for n in dict.fromkeys(names) if n != BOT_VANTAGE]
    if behind_jump is None:
        behind_jump = declares_jump(target)
    if target is not None and behind_jump and others and not explicit_bot:
        return others
    return [BOT_VANTAGE, *others]


class UnknownHost(BadInput):
    """A target that is neither an inventory host nor inside ``allowed_targets``."""

    def __init__(self, token: str, suggestions: list[str], known: list[str]):
        self.token, self.suggestions, self.known = token, suggestions, known
        shown = printable(token)
        if suggestions:
            tail = f"did you mean {or_list(suggestions)}?"
        elif known:
            more = f" (and {len(known) - 20} more)" if len(known) > 20 else ""
            tail = f"known hosts: {', '.join(known[:20])}{more}"
        else:
            tail = "the inventory is empty (add hosts: or inventory: to the config)"
        super().__init__(f"{shown} is not in the inventory; {tail}")


class UnknownVantage(BadInput):
    """A vantage that is neither a configured vantage nor an inventory host."""

    def __init__(self, token: str, known: list[str], suggestions: list[str]):
        self.token, self.known, self.suggestions = token, known, suggestions
        hint = f"did you mean {or_list(suggestions)}? " if suggestions else ""
        super().__init__(
            f"{printable(token)} is not a vantage or an inventory host; {hint}known vantages: {', '.join(known)}"
        )


@dataclass(frozen=True)
class Vantage:
    """A place connect tests run from. ``bot`` (the bot's own host) always exists."""

    name: str
    host: Host
    note: str | None = None
    nat: bool = False
    adhoc: bool = False  # an inventory host named as a vantage, not a configured one


class Inventory:
    """Hosts, groups, services, aliases, addresses and vantages."""

    def __init__(
        self,
        hosts: Iterable[Host],
        vantages: Mapping[str, Any] | None = None,
        allowed_targets: Iterable[str] = (),
    ) -> None:
        self._hosts: dict[str, Host] = {}
        for h in hosts:
            self._hosts[h.name] = h
        self._index: dict[str, list[str]] = {}  # lowercased name/alias/address -> host names
        for h in self._hosts.values():
            self._add_key(h.name, h.name)
        for h in self._hosts.values():
            for a in h.aliases:
                self._add_key(a, h.name)
            ip = canonical_ip(h.address)
            self._add_key(ip or h.address, h.name)
        self._nets = [ipaddress.ip_network(c, strict=False) for c in allowed_targets]
        self._vantages = self._build_vantages(vantages or {})
        self.zones = frozenset(h.zone for h in self._hosts.values() if h.zone)  # zones the hosts themselves name
        # the jump hosts on a host's SSH route, set by the service from its transports
        # (``TransportSet.jump_hosts``: inventory proxy_jump, ~/.ssh/config ProxyJump, ssh.proxy_jump)
        self.jumps_of: Callable[[Host], Sequence[str]] | None = None

    # ---- construction

    @classmethod
    def from_config(cls, config: Config) -> Inventory:
        """Config ``hosts:`` merged over the Ansible inventories in ``inventory:``."""
        ansible = (
            load_ansible_inventory(config.inventory, config.base_dir(), playbook_dir=config.ansible_playbook_dir)
            if config.inventory
            else {}
        )
        hosts = dict(ansible)
        for name, hc in config.hosts.items():
            key = f"hosts.{name}"
            check_name(name, "host name", key)
            given = hc.model_fields_set
            base = ansible.get(name)
            address = hc.address if hc.address is not None else (base.address if base else name)
            check_name(address, "address", key + ".address")
            if hc.user is not None and not USER_RE.match(hc.user):
                raise InventoryError(f"{key}.user: {printable(hc.user)!r} is not a valid user name")
            for a in hc.aliases:
                check_name(a, "alias", key + ".aliases")
            for s in hc.services:
                check_service(s, key + ".services")
            services = dict(base.services) if base else {}
            services.update(hc.services)
            hosts[name] = Host(
                name=name,
                address=address,
                port=hc.port if ("port" in given or base is None) else base.port,
                user=hc.user if hc.user is not None else (base.user if base else None),
                transport=hc.transport if ("transport" in given or base is None) else base.transport,
                groups=tuple(dict.fromkeys([*hc.groups, *(base.groups if base else ())])),
                services=services,
                aliases=tuple(dict.fromkeys([*hc.aliases, *(base.aliases if base else ())])),
                note=hc.note if hc.note is not None else (base.note if base else None),
                proxy_jump=hc.proxy_jump if hc.proxy_jump is not None else (base.proxy_jump if base else None),
                client_keys=tuple(hc.client_keys) or (base.client_keys if base else ()),
                zone=hc.zone or (base.zone if base else None),
            )
            for g in hc.groups:
                if not GROUP_RE.match(g):
                    raise InventoryError(f"{key}.groups: {printable(g)!r} is not a valid group name")
        hosts = {n: _with_group_jump(h, config) for n, h in hosts.items()}
        return cls(hosts.values(), config.vantages, config.allowed_targets)

    def _add_key(self, key: str, name: str) -> None:
        names = self._index.setdefault(key.lower(), [])
        if name not in names:
            names.append(name)

    def _build_vantages(self, configured: Mapping[str, Any]) -> dict[str, Vantage]:
        out: dict[str, Vantage] = {}
        local = next((h for h in self._hosts.values() if h.is_local), None)
        bot_host = local or Host(name=BOT_VANTAGE, address="127.0.0.1", transport="local")
        out[BOT_VANTAGE] = Vantage(BOT_VANTAGE, bot_host, "the bot's own host", False)
        for vname, vc in configured.items():
            key = f"vantages.{vname}"
            if not GROUP_RE.match(vname):
                raise InventoryError(f"{key}: {printable(vname)!r} is not a valid vantage name")
            host_token = vc["host"] if isinstance(vc, Mapping) else vc.host
            note = vc.get("note") if isinstance(vc, Mapping) else getattr(vc, "note", None)
            nat_flag = vc.get("nat") if isinstance(vc, Mapping) else getattr(vc, "nat", None)
            try:
                host = self.lookup(str(host_token))
            except BadInput as e:
                raise InventoryError(f"{key}.host: {e}") from None
            if host is None:
                raise InventoryError(f"{key}.host: {self.unknown(str(host_token))}")
            if vname == BOT_VANTAGE and not host.is_local:
                raise InventoryError(f"{key}: the name 'bot' is reserved for the bot's own host (transport: local)")
            nat = bool(nat_flag) if nat_flag is not None else bool(note and _NAT_RE.search(note))
            out[vname] = Vantage(vname, host, note, nat)
        return out

    # ---- queries

    @property
    def hosts(self) -> dict[str, Host]:
        return dict(self._hosts)

    def names(self) -> list[str]:
        return sorted(self._hosts)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for h in self._hosts.values():
            for g in h.groups:
                out.setdefault(g, []).append(h.name)
        return {g: sorted(v) for g, v in sorted(out.items())}

    def all_services(self) -> set[str]:
        return {s.lower() for h in self._hosts.values() for s in h.services}

    def get(self, name: str) -> Host | None:
        return self._hosts.get(name)

    def behind_jump(self, host: Host | None) -> bool:
        """Whether SSH reaches *host* through a jump host: its route, when the service set
        ``jumps_of``; else the host's own ``proxy_jump``."""
        if host is None or self.jumps_of is None:
            return declares_jump(host)
        return bool(self.jumps_of(host))

    def lookup(self, token: str) -> Host | None:
        """The inventory host for a name, alias or address (case-insensitive), or None.

        Raises BadInput when the token is ambiguous (an alias or address shared by
        several hosts). Never returns an ad-hoc host.
        """
        t = token.strip()
        names = self._index.get(t.lower())
        if names is None:
            ip = canonical_ip(t)
            names = self._index.get(ip.lower()) if ip else None
        if not names:
            return None
        if len(names) > 1:
            exact = [n for n in names if n.lower() == t.lower()]
            if len(exact) == 1:
                return self._hosts[exact[0]]
            raise BadInput(f"{printable(t)} matches several hosts ({', '.join(sorted(names))}); say which by name")
        return self._hosts[names[0]]

    def allowed_network(self, token: str) -> str | None:
        """The ``allowed_targets`` CIDR containing *token* (an IP address), or None."""
        ip_s = canonical_ip(token)
        if ip_s is None:
            return None
        ip = ipaddress.ip_address(ip_s)
        for net in self._nets:
            if ip.version == net.version and ip in net:
                return str(net)
        return None

    def resolve(self, token: str) -> Host:
        """An inventory host by name, alias or address; or an ad-hoc host inside
        ``allowed_targets`` (``adhoc=True``, ``probe_ssh=False``: connect tests only).

        Raises UnknownHost (a BadInput) otherwise.
        """
        host = self.lookup(token)
        if host is not None:
            return host
        net = self.allowed_network(token)
        if net is not None:
            ip = canonical_ip(token)
            assert ip is not None
            return Host(
                name=ip,
                address=ip,
                transport="ssh",
                adhoc=True,
                probe_ssh=False,
                note=f"not an inventory host; inside allowed_targets {net}",
            )
        raise self.unknown(token)

    def unknown(self, token: str) -> UnknownHost:
        keys: dict[str, str] = {}
        for key, names in self._index.items():
            if len(names) == 1:
                keys.setdefault(key, names[0])
        for n in self._hosts:
            keys[n.lower()] = n
        close = difflib.get_close_matches(token.strip().lower(), list(keys), n=3, cutoff=0.7)
        suggestions = list(dict.fromkeys(keys[c] for c in close))
        return UnknownHost(token.strip(), suggestions, self.names())

    def select(self, selectors: Iterable[str]) -> list[Host]:
        """Hosts for drift/reports: ``all`` (or ``*``), ``group:NAME``, a bare group
        name, or a host (name, alias, address). Comma-separated lists work too."""
        out: dict[str, Host] = {}
        groups = {g.lower(): hs for g, hs in self.groups().items()}
        tokens = [t.strip() for s in selectors for t in str(s).split(",") if t.strip()]
        for t in tokens:
            low = t.lower()
            if low in ("all", "*"):
                for n in self.names():
                    out.setdefault(n, self._hosts[n])
                continue
            if low.startswith("group:") or (self.lookup(t) is None and low in groups):
                g = low.removeprefix("group:")
                if g not in groups:
                    close = difflib.get_close_matches(g, list(groups), n=3, cutoff=0.6)
                    hint = f"did you mean {or_list(['group:' + c for c in close])}? " if close else ""
                    known = ", ".join(self.groups()) or "(none)"
                    raise BadInput(f"{printable(t)}: no such group; {hint}known groups: {known}")
                for n in groups[g]:
                    out.setdefault(n, self._hosts[n])
                continue
            host = self.lookup(t)
            if host is None:
                raise self.unknown(t)
            out.setdefault(host.name, host)
        return list(out.values())

    def vantages(self) -> dict[str, Vantage]:
        """Configured vantages plus ``bot`` (always present, the local transport)."""
        return dict(self._vantages)

    def resolve_vantage(self, token: str) -> Vantage:
        """A configured vantage by name (case-insensitive), or an inventory host
        (name, alias, address) as an ad-hoc vantage. Raises UnknownVantage."""
        t = token.strip()
        by_lower = {k.lower(): v for k, v in self._vantages.items()}
        v = by_lower.get(t.lower())
        if v is not None:
            return v
        try:
            host = self.lookup(t)
        except BadInput:
            host = None
        if host is not None:
            return Vantage(host.name, host, host.note, False, adhoc=True)
        known = list(self._vantages)
        close = difflib.get_close_matches(t.lower(), list(by_lower) + [n.lower() for n in self._hosts], n=3, cutoff=0.6)
        canon = {k.lower(): k for k in [*self._vantages, *self._hosts]}
        raise UnknownVantage(t, known, list(dict.fromkeys(canon[c] for c in close)))


def _with_group_jump(host: Host, config: Config) -> Host:
    """*host* with the first ``groups.<g>.proxy_jump`` of its groups when it has none of its own."""
    if host.proxy_jump is not None:
        return host
    for g in host.groups:
        gc = config.groups.get(g)
        if gc is not None and gc.proxy_jump:
            return dataclasses.replace(host, proxy_jump=gc.proxy_jump)
    return host
