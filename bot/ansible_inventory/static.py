"""Static Ansible inventory files: INI and YAML (``all:``/``hosts:``/``children:``/``vars:``), host ranges."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from bot.ansible_inventory.model import AnsibleInventory
from bot.ansible_inventory.varsfiles import ansible_loader
from bot.inventory_checks import InventoryError, printable

__all__ = ["MAX_RANGE_HOSTS", "expand_hostname_range", "load_ini", "load_yaml", "looks_like_yaml", "parse_yaml"]

MAX_RANGE_HOSTS = 10_000

_RANGE_RE = re.compile(r"\[([^\]]*)\]")


def expand_hostname_range(pattern: str, where: str) -> list[str]:
    """Expand Ansible host ranges: ``web[01:03]``, ``db-[a:c]``, ``n[0:10:5]``."""
    m = _RANGE_RE.search(pattern)
    if not m:
        return [pattern]
    head, body, tail = pattern[: m.start()], m.group(1), pattern[m.end() :]
    parts = body.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InventoryError(f"{where}: bad host range [{printable(body)}] (want [start:end] or [start:end:step])")
    start, end = parts[0], parts[1]
    step_s = parts[2] if len(parts) == 3 else "1"
    if not step_s.isdigit() or int(step_s) < 1:
        raise InventoryError(f"{where}: bad step in host range [{printable(body)}]")
    step = int(step_s)
    if start.isdigit() and end.isdigit():
        lo, hi = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        seq = [str(i).zfill(width) for i in range(lo, hi + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        lo, hi = ord(start), ord(end)
        seq = [chr(i) for i in range(lo, hi + 1, step)]
    else:
        raise InventoryError(f"{where}: bad host range [{printable(body)}]")
    if not seq or lo > hi:
        raise InventoryError(f"{where}: empty host range [{printable(body)}] (start after end)")
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


def load_ini(text: str, path: str, inv: AnsibleInventory) -> None:
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
                raise InventoryError(f"{where}: malformed section header {printable(s)!r}")
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
                raise InventoryError(f"{where}: expected key=value in [{section}:vars], got {printable(s)!r}")
            key, _, value = s.partition("=")
            key = key.strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", key):
                raise InventoryError(f"{where}: {printable(key)!r} is not a variable name")
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
                raise InventoryError(f"{where}: expected key=value after the host name, got {printable(tok)!r}")
            k, _, v = tok.partition("=")
            hvars[k] = v
        pattern, port = _split_port(pattern)
        if port is not None:  # "host:2222", Ansible's port suffix
            hvars = {"ansible_port": port, **hvars}
        for name in expand_hostname_range(pattern, where):
            inv.add_host(name, section, hvars, where)


def _line_loader(path: str) -> type[yaml.SafeLoader]:
    class Loader(ansible_loader(where=path)):  # type: ignore[misc]
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


def parse_yaml(text: str, path: str) -> Any:
    """YAML (or JSON) text whose mappings remember their line numbers (``key_lines``)."""
    try:
        return yaml.load(text, Loader=_line_loader(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise InventoryError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None


def load_yaml(text: str, path: str, inv: AnsibleInventory, data: Any = None) -> None:
    """An Ansible YAML inventory (*data*: the already parsed text, if any)."""
    if data is None:
        data = parse_yaml(text, path)
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
            raise InventoryError(
                f"{where}: group {printable(str(name))!r} must be a mapping (hosts:, children:, vars:)"
            )
        for key in body:
            if key not in ("hosts", "children", "vars"):
                raise InventoryError(
                    f"{path}:{line_of(body, key, lineno)}: unknown key {printable(str(key))!r} in group "
                    f"{printable(str(name))!r} (want hosts:, children: or vars:)"
                )
        hosts = body.get("hosts")
        if hosts is not None:
            hl = line_of(body, "hosts", lineno)
            if not isinstance(hosts, dict):
                raise InventoryError(f"{path}:{hl}: hosts of group {name!r} must be a mapping (host: vars), not a list")
            for hname, hvars in hosts.items():
                hw = f"{path}:{line_of(hosts, hname, hl)}"
                if hvars is not None and not isinstance(hvars, dict):
                    raise InventoryError(f"{hw}: variables of host {printable(str(hname))!r} must be a mapping")
                for h in expand_hostname_range(str(hname), hw):
                    inv.add_host(h, g.name, dict(hvars or {}), hw)
        gvars = body.get("vars")
        if gvars is not None:
            if not isinstance(gvars, dict):
                raise InventoryError(
                    f"{path}:{line_of(body, 'vars', lineno)}: vars of group {name!r} must be a mapping"
                )
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


def looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        return s.startswith(("---", "{")) or bool(re.fullmatch(r"[\w.-]+:\s*(\{.*\})?\s*(#.*)?", s))
    return False
