"""The inventory: the only hosts whycant will ever probe (docs/architecture.md §Front ends and contracts, §Configuration).

Hosts come from the config's ``hosts:`` and from Ansible inventories (INI or
YAML) listed in ``inventory:``; the config's own entries win over Ansible for
the same name (groups, services and aliases are merged). Every name, alias,
address, service and vantage name is checked against a conservative character
set when loaded, so whatever a request resolves to is made of inventory
characters that are safe on a command line, never of characters typed in chat.

Ansible variables understood: ``ansible_host``, ``ansible_port``,
``ansible_user`` (and their ``ansible_ssh_*`` forms), ``ansible_connection=local``,
and whycant's own ``whycant_services`` (``{postgres: 5432}`` or
``"postgres:5432,http:80"``), ``whycant_aliases`` and ``whycant_note``.
"""
from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import yaml

from bot.config import ConfigError
from probes.errors import BadInput
from probes.inventory import Host

if TYPE_CHECKING:  # pragma: no cover
    from bot.config import Config

__all__ = [
    "Inventory",
    "InventoryError",
    "UnknownHost",
    "UnknownVantage",
    "Vantage",
    "BOT_VANTAGE",
    "load_ansible_inventory",
]

BOT_VANTAGE = "bot"
MAX_RANGE_HOSTS = 10_000

# Conservative character sets: a hostname, an IP address (v4/v6), a user name.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}\Z")
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\Z")
_GROUP_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_SERVICE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,62}\Z")
_NAT_RE = re.compile(r"\bnat(?:ted|'d|ed)?\b", re.IGNORECASE)


class InventoryError(ConfigError):
    """An inventory file, host entry or vantage is invalid (names file:line or the key)."""


class UnknownHost(BadInput):
    """A target that is neither an inventory host nor inside ``allowed_targets``."""

    def __init__(self, token: str, suggestions: list[str], known: list[str]):
        self.token, self.suggestions, self.known = token, suggestions, known
        shown = _printable(token)
        if suggestions:
            tail = f"did you mean {_or_list(suggestions)}?"
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
        hint = f"did you mean {_or_list(suggestions)}? " if suggestions else ""
        super().__init__(
            f"{_printable(token)} is not a vantage or an inventory host; {hint}"
            f"known vantages: {', '.join(known)}"
        )


@dataclass(frozen=True)
class Vantage:
    """A place connect tests run from. ``bot`` (the bot's own host) always exists."""

    name: str
    host: Host
    note: str | None = None
    nat: bool = False
    adhoc: bool = False  # an inventory host named as a vantage, not a configured one


def _printable(token: str, limit: int = 64) -> str:
    """A token as it may appear in a message: no control characters, bounded."""
    clean = "".join(c if c.isprintable() else "?" for c in token)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _or_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _canonical_ip(token: str) -> str | None:
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


# --------------------------------------------------------------------------- Ansible


@dataclass
class _AnsibleHost:
    name: str
    vars: dict[str, Any]


@dataclass
class _AnsibleGroup:
    name: str
    vars: dict[str, Any]
    children: set[str]
    hosts: set[str]


class _Ansible:
    """Accumulates groups and hosts from one or more Ansible inventory files."""

    def __init__(self) -> None:
        self.groups: dict[str, _AnsibleGroup] = {}
        self.hosts: dict[str, _AnsibleHost] = {}
        self.where: dict[str, str] = {}  # host -> "file:line" for error messages

    def group(self, name: str, where: str) -> _AnsibleGroup:
        if not _GROUP_RE.match(name):
            raise InventoryError(f"{where}: {_printable(name)!r} is not a valid group name")
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = _AnsibleGroup(name, {}, set(), set())
        return g

    def add_host(self, name: str, group: str, hvars: Mapping[str, Any], where: str) -> None:
        if not _NAME_RE.match(name):
            raise InventoryError(f"{where}: {_printable(name)!r} is not a valid host name")
        h = self.hosts.get(name)
        if h is None:
            h = self.hosts[name] = _AnsibleHost(name, {})
            self.where[name] = where
        h.vars.update(hvars)
        self.group(group, where).hosts.add(name)

    def _depths(self) -> dict[str, int]:
        depth = {"all": 0}
        parents: dict[str, set[str]] = {}
        for g in self.groups.values():
            for c in g.children:
                parents.setdefault(c, set()).add(g.name)

        def d(name: str, seen: frozenset[str]) -> int:
            if name in depth:
                return depth[name]
            ps = [p for p in parents.get(name, ()) if p not in seen]
            val = 1 + max((d(p, seen | {name}) for p in ps), default=0)
            depth[name] = val
            return val

        for name in self.groups:
            d(name, frozenset())
        return depth

    def _ancestors(self) -> dict[str, set[str]]:
        """Group -> every group that contains it (transitively), itself included."""
        parents: dict[str, set[str]] = {}
        for g in self.groups.values():
            for c in g.children:
                parents.setdefault(c, set()).add(g.name)
        out: dict[str, set[str]] = {}
        for name in self.groups:
            seen: set[str] = set()
            stack = [name]
            while stack:
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                stack.extend(parents.get(n, ()))
            out[name] = seen
        return out

    def to_hosts(self) -> dict[str, Host]:
        depths = self._depths()
        ancestors = self._ancestors()
        member: dict[str, set[str]] = {h: set() for h in self.hosts}
        for g in self.groups.values():
            for h in g.hosts:
                member[h] |= ancestors.get(g.name, {g.name})
        out: dict[str, Host] = {}
        for name, h in self.hosts.items():
            groups = member[name] | {"all"}
            merged: dict[str, Any] = {}
            for g in sorted(groups, key=lambda n: (depths.get(n, 1), n)):
                if g in self.groups:
                    merged.update(self.groups[g].vars)
            merged.update(h.vars)
            out[name] = _host_from_vars(name, merged, groups, self.where[name])
        return out


def _var(vars_: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in vars_ and vars_[k] is not None:
            return vars_[k]
    return None


def _parse_services(value: Any, where: str) -> dict[str, int]:
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
                raise InventoryError(f"{where}: whycant_services is not valid: {_printable(text)}") from None
            return _parse_services(loaded, where)
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = re.fullmatch(r"([^:=\s]+)\s*[:=]\s*(\S+)", part)
            if not m:
                raise InventoryError(f"{where}: whycant_services entry {_printable(part)!r} is not name:port")
            items.append((m.group(1), m.group(2)))
    else:
        raise InventoryError(f"{where}: whycant_services must be a mapping of service name to port")
    out: dict[str, int] = {}
    for name, port in items:
        out[_check_service(str(name), where)] = _check_port(port, f"{where}: service {name}")
    return out


def _parse_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _check_port(value: Any, where: str) -> int:
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise InventoryError(f"{where}: port {_printable(str(value))!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise InventoryError(f"{where}: port {port} is not in 1..65535")
    return port


def _check_service(name: str, where: str) -> str:
    if not _SERVICE_RE.match(name):
        raise InventoryError(f"{where}: {_printable(name)!r} is not a valid service name")
    return name


def _check_name(value: str, what: str, where: str) -> str:
    if not _NAME_RE.match(value):
        raise InventoryError(f"{where}: {what} {_printable(value)!r} is not a valid host name or address")
    return value


def _host_from_vars(name: str, v: Mapping[str, Any], groups: set[str], where: str) -> Host:
    address = _var(v, "ansible_host", "ansible_ssh_host")
    address = _check_name(str(address), "ansible_host", where) if address is not None else name
    port_v = _var(v, "ansible_port", "ansible_ssh_port")
    port = _check_port(port_v, f"{where}: ansible_port") if port_v is not None else 22
    user = _var(v, "ansible_user", "ansible_ssh_user")
    if user is not None and not _USER_RE.match(str(user)):
        raise InventoryError(f"{where}: ansible_user {_printable(str(user))!r} is not a valid user name")
    conn = str(_var(v, "ansible_connection") or "ssh")
    aliases = [_check_name(a, "alias", where) for a in _parse_list(_var(v, "whycant_aliases"))]
    if address != name and _canonical_ip(address) is None:
        aliases.append(address)  # ansible_host given as a DNS name: an alias too
    note = _var(v, "whycant_note")
    return Host(
        name=name,
        address=address,
        port=port,
        user=str(user) if user is not None else None,
        transport="local" if conn == "local" else "ssh",
        groups=tuple(sorted(g for g in groups if g not in ("all", "ungrouped"))),
        services=_parse_services(_var(v, "whycant_services"), where),
        aliases=tuple(dict.fromkeys(aliases)),
        note=str(note) if note is not None else None,
    )


_RANGE_RE = re.compile(r"\[([^\]]*)\]")


def expand_hostname_range(pattern: str, where: str) -> list[str]:
    """Expand Ansible host ranges: ``web[01:03]``, ``db-[a:c]``, ``n[0:10:5]``."""
    m = _RANGE_RE.search(pattern)
    if not m:
        return [pattern]
    head, body, tail = pattern[: m.start()], m.group(1), pattern[m.end() :]
    parts = body.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InventoryError(f"{where}: bad host range [{_printable(body)}] (want [start:end] or [start:end:step])")
    start, end = parts[0], parts[1]
    step_s = parts[2] if len(parts) == 3 else "1"
    if not step_s.isdigit() or int(step_s) < 1:
        raise InventoryError(f"{where}: bad step in host range [{_printable(body)}]")
    step = int(step_s)
    if start.isdigit() and end.isdigit():
        lo, hi = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        seq = [str(i).zfill(width) for i in range(lo, hi + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        lo, hi = ord(start), ord(end)
        seq = [chr(i) for i in range(lo, hi + 1, step)]
    else:
        raise InventoryError(f"{where}: bad host range [{_printable(body)}]")
    if not seq or lo > hi:
        raise InventoryError(f"{where}: empty host range [{_printable(body)}] (start after end)")
    rest = expand_hostname_range(tail, where)
    if len(seq) * len(rest) > MAX_RANGE_HOSTS:
        raise InventoryError(f"{where}: host range expands to more than {MAX_RANGE_HOSTS} hosts")
    return [head + s + r for s in seq for r in rest]


def _split_port(pattern: str) -> tuple[str, str | None]:
    """``db01:2222`` -> (``db01``, ``2222``); range colons inside [...] don't count."""
    if re.sub(r"\[[^\]]*\]", "", pattern).count(":") == 1:
        head, _, tail = pattern.rpartition(":")
        if tail.isdigit() and "]" not in tail:
            return head, tail
    return pattern, None


def _ini_value(raw: str) -> Any:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def _load_ini(text: str, path: str, inv: _Ansible) -> None:
    section, kind = "ungrouped", "hosts"
    inv.group("all", f"{path}:1")
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{path}:{lineno}"
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            m = re.fullmatch(r"\[([^\]:\s]+)(?::(\w+))?\]\s*(?:[#;].*)?", s)
            if not m:
                raise InventoryError(f"{where}: malformed section header {_printable(s)!r}")
            section, kind = m.group(1), m.group(2) or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise InventoryError(
                    f"{where}: unknown section type ':{kind}' (want [group], [group:children] or [group:vars])"
                )
            inv.group(section, where)
            if section != "all":
                inv.group("all", where).children.add(section)
            continue
        if kind == "vars":
            if "=" not in s:
                raise InventoryError(f"{where}: expected key=value in [{section}:vars], got {_printable(s)!r}")
            key, _, value = s.partition("=")
            key = key.strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", key):
                raise InventoryError(f"{where}: {_printable(key)!r} is not a variable name")
            inv.group(section, where).vars[key] = _ini_value(value)
            continue
        if kind == "children":
            child = s.split()[0]
            inv.group(child, where)
            inv.group(section, where).children.add(child)
            continue
        try:
            lex = shlex.shlex(s, posix=True)
            lex.whitespace_split = True
            lex.commenters = "#"
            tokens = list(lex)
        except ValueError as e:
            raise InventoryError(f"{where}: cannot parse host line ({e})") from None
        if not tokens:
            continue
        pattern, hvars = tokens[0], {}
        for tok in tokens[1:]:
            if "=" not in tok:
                raise InventoryError(f"{where}: expected key=value after the host name, got {_printable(tok)!r}")
            k, _, v = tok.partition("=")
            hvars[k] = v
        pattern, port = _split_port(pattern)
        if port is not None:  # "host:2222", Ansible's port suffix
            hvars = {"ansible_port": port, **hvars}
        for name in expand_hostname_range(pattern, where):
            inv.add_host(name, section, hvars, where)


def _line_loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        loader.flatten_mapping(node)
        d: _LineDict = _LineDict()
        d.line = node.start_mark.line + 1
        for k_node, v_node in node.value:
            k = loader.construct_object(k_node, deep=True)
            try:
                hash(k)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", k_node.start_mark
                ) from None
            d[k] = loader.construct_object(v_node, deep=True)
            d.key_lines[k] = k_node.start_mark.line + 1
        return d

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


class _LineDict(dict):
    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.key_lines: dict[Any, int] = {}


def _load_yaml(text: str, path: str, inv: _Ansible) -> None:
    try:
        data = yaml.load(text, Loader=_line_loader())  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise InventoryError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise InventoryError(f"{path}:1: an Ansible YAML inventory must be a mapping of groups (e.g. all:)")
    inv.group("all", f"{path}:1")

    def line_of(d: Any, key: Any, default: int) -> int:
        return getattr(d, "key_lines", {}).get(key, default)

    def walk(name: str, body: Any, lineno: int, parent: str | None) -> None:
        where = f"{path}:{lineno}"
        g = inv.group(str(name), where)
        if parent is not None and parent != g.name:
            inv.group(parent, where).children.add(g.name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise InventoryError(f"{where}: group {_printable(str(name))!r} must be a mapping (hosts:, children:, vars:)")
        for key in body:
            if key not in ("hosts", "children", "vars"):
                raise InventoryError(
                    f"{path}:{line_of(body, key, lineno)}: unknown key {_printable(str(key))!r} in group "
                    f"{_printable(str(name))!r} (want hosts:, children: or vars:)"
                )
        hosts = body.get("hosts")
        if hosts is not None:
            hl = line_of(body, "hosts", lineno)
            if not isinstance(hosts, dict):
                raise InventoryError(f"{path}:{hl}: hosts of group {name!r} must be a mapping (host: vars), not a list")
            for hname, hvars in hosts.items():
                hw = f"{path}:{line_of(hosts, hname, hl)}"
                if hvars is not None and not isinstance(hvars, dict):
                    raise InventoryError(f"{hw}: variables of host {_printable(str(hname))!r} must be a mapping")
                for h in expand_hostname_range(str(hname), hw):
                    inv.add_host(h, g.name, dict(hvars or {}), hw)
        gvars = body.get("vars")
        if gvars is not None:
            if not isinstance(gvars, dict):
                raise InventoryError(f"{path}:{line_of(body, 'vars', lineno)}: vars of group {name!r} must be a mapping")
            g.vars.update(gvars)
        children = body.get("children")
        if children is not None:
            cl = line_of(body, "children", lineno)
            if not isinstance(children, dict):
                raise InventoryError(f"{path}:{cl}: children of group {name!r} must be a mapping of groups")
            for cname, cbody in children.items():
                walk(str(cname), cbody, line_of(children, cname, cl), g.name)

    for gname, body in data.items():
        walk(str(gname), body, line_of(data, gname, 1), None if gname == "all" else "all")


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        return s.startswith("---") or s.startswith("{") or bool(re.fullmatch(r"[\w.-]+:\s*(\{.*\})?\s*(#.*)?", s))
    return False


def load_ansible_inventory(paths: Iterable[str | Path], base_dir: Path | None = None) -> dict[str, Host]:
    """Hosts from Ansible inventory files (INI or YAML) or directories of them."""
    inv = _Ansible()
    for p in paths:
        path = Path(p).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        files = [path]
        if path.is_dir():
            files = sorted(
                f for f in path.iterdir()
                if f.is_file() and not f.name.startswith(".") and not f.name.endswith(("~", ".retry", ".pyc"))
            )
        for f in files:
            try:
                text = f.read_text()
            except OSError as e:
                raise InventoryError(f"{f}: cannot read inventory: {e.strerror}") from None
            except UnicodeDecodeError:
                raise InventoryError(f"{f}: inventory is not UTF-8 text") from None
            try:
                if f.suffix in (".yml", ".yaml", ".json") or (f.suffix not in (".ini", ".cfg") and _looks_like_yaml(text)):
                    _load_yaml(text, str(f), inv)
                else:
                    _load_ini(text, str(f), inv)
            except RecursionError:
                raise InventoryError(f"{f}: groups are nested too deeply") from None
    try:
        return inv.to_hosts()
    except RecursionError:
        raise InventoryError("Ansible inventory: groups are nested too deeply") from None


# --------------------------------------------------------------------------- Inventory


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
            ip = _canonical_ip(h.address)
            self._add_key(ip or h.address, h.name)
        self._nets = [ipaddress.ip_network(c, strict=False) for c in allowed_targets]
        self._vantages = self._build_vantages(vantages or {})

    # ---- construction

    @classmethod
    def from_config(cls, config: Config) -> Inventory:
        """Config ``hosts:`` merged over the Ansible inventories in ``inventory:``."""
        ansible = load_ansible_inventory(config.inventory, config.base_dir()) if config.inventory else {}
        hosts = dict(ansible)
        for name, hc in config.hosts.items():
            key = f"hosts.{name}"
            _check_name(name, "host name", key)
            given = hc.model_fields_set
            base = ansible.get(name)
            address = hc.address if hc.address is not None else (base.address if base else name)
            _check_name(address, "address", key + ".address")
            if hc.user is not None and not _USER_RE.match(hc.user):
                raise InventoryError(f"{key}.user: {_printable(hc.user)!r} is not a valid user name")
            for a in hc.aliases:
                _check_name(a, "alias", key + ".aliases")
            for s in hc.services:
                _check_service(s, key + ".services")
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
            )
            for g in hc.groups:
                if not _GROUP_RE.match(g):
                    raise InventoryError(f"{key}.groups: {_printable(g)!r} is not a valid group name")
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
            if not _GROUP_RE.match(vname):
                raise InventoryError(f"{key}: {_printable(vname)!r} is not a valid vantage name")
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

    def lookup(self, token: str) -> Host | None:
        """The inventory host for a name, alias or address (case-insensitive), or None.

        Raises BadInput when the token is ambiguous (an alias or address shared by
        several hosts). Never returns an ad-hoc host.
        """
        t = token.strip()
        names = self._index.get(t.lower())
        if names is None:
            ip = _canonical_ip(t)
            names = self._index.get(ip.lower()) if ip else None
        if not names:
            return None
        if len(names) > 1:
            exact = [n for n in names if n.lower() == t.lower()]
            if len(exact) == 1:
                return self._hosts[exact[0]]
            raise BadInput(f"{_printable(t)} matches several hosts ({', '.join(sorted(names))}); say which by name")
        return self._hosts[names[0]]

    def allowed_network(self, token: str) -> str | None:
        """The ``allowed_targets`` CIDR containing *token* (an IP address), or None."""
        ip_s = _canonical_ip(token)
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
            ip = _canonical_ip(token)
            assert ip is not None
            return Host(name=ip, address=ip, transport="ssh", adhoc=True, probe_ssh=False,
                        note=f"not an inventory host; inside allowed_targets {net}")
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
                    hint = f"did you mean {_or_list(['group:' + c for c in close])}? " if close else ""
                    known = ", ".join(self.groups()) or "(none)"
                    raise BadInput(f"{_printable(t)}: no such group; {hint}known groups: {known}")
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
