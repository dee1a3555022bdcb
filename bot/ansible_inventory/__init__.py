"""Hosts from Ansible inventory sources, as teams write them (docs/inventory.md).

A source (``inventory:`` in the config) is a file or a directory of files. Each file is:

- an executable with ``#!`` -> a dynamic inventory script, run with ``--list``;
- YAML/JSON with ``plugin:`` (or ``.toml``) -> read through ``ansible-inventory`` when installed;
- JSON in the ``--list`` format (``_meta``, groups as lists) -> saved ``ansible-inventory --list`` output;
- otherwise an INI or YAML inventory.

``group_vars/`` and ``host_vars/`` beside each source (and beside ``playbook_dir``) are
merged with Ansible's precedence (``bot.ansible_inventory.model``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.ansible_inventory.dynamic import (
    SCRIPT_TIMEOUT_S,
    is_script,
    load_list_json,
    load_script,
    load_with_ansible_inventory,
    looks_like_list_json,
)
from bot.ansible_inventory.model import AnsibleInventory
from bot.ansible_inventory.static import (
    MAX_RANGE_HOSTS,
    expand_hostname_range,
    load_ini,
    load_yaml,
    looks_like_yaml,
    parse_yaml,
)
from bot.inventory_checks import InventoryError
from probes.inventory import Host

__all__ = ["MAX_RANGE_HOSTS", "AnsibleInventory", "expand_hostname_range", "load_ansible_inventory"]

# Ansible's INVENTORY_IGNORE_EXTS: files in an inventory directory that are not inventories.
_SKIP_SUFFIXES = ("~", ".pyc", ".pyo", ".swp", ".bak", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
_VARS_DIRS = ("group_vars", "host_vars")


def _source_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    return sorted(
        f for f in path.iterdir() if f.is_file() and not f.name.startswith(".") and not f.name.endswith(_SKIP_SUFFIXES)
    )


def _load_file(f: Path, inv: AnsibleInventory, playbook_dir: Path | None, timeout: float) -> None:
    if is_script(f):
        load_script(f, inv, timeout)
        return
    if f.suffix == ".toml":
        load_with_ansible_inventory(f, inv, why="a TOML inventory", playbook_dir=playbook_dir, timeout=timeout)
        return
    try:
        text = f.read_text()
    except OSError as e:
        raise InventoryError(f"{f}: cannot read inventory: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InventoryError(f"{f}: inventory is not UTF-8 text") from None
    if f.suffix in (".yml", ".yaml", ".json") or (f.suffix not in (".ini", ".cfg") and looks_like_yaml(text)):
        data = parse_yaml(text, str(f))
        if isinstance(data, dict) and "plugin" in data:
            load_with_ansible_inventory(
                f,
                inv,
                why=f"an inventory plugin config (plugin: {data['plugin']})",
                playbook_dir=playbook_dir,
                timeout=timeout,
            )
        elif looks_like_list_json(data):
            load_list_json(data, str(f), inv, complete=True)
        else:
            load_yaml(text, str(f), inv, data)
    else:
        load_ini(text, str(f), inv)


def load_ansible_inventory(
    paths: Iterable[str | Path],
    base_dir: Path | None = None,
    *,
    playbook_dir: str | Path | None = None,
    timeout: float = SCRIPT_TIMEOUT_S,
) -> dict[str, Host]:
    """Hosts from Ansible inventory sources (files or directories), vars files merged."""
    inv = AnsibleInventory()

    def absolute(p: str | Path) -> Path:
        path = Path(p).expanduser()
        return base_dir / path if not path.is_absolute() and base_dir is not None else path

    pdir = absolute(playbook_dir) if playbook_dir is not None else None
    if pdir is not None and not pdir.is_dir():
        raise InventoryError(f"ansible_playbook_dir: {pdir} is not a directory")
    for p in paths:
        path = absolute(p)
        if not path.exists():
            raise InventoryError(f"{path}: cannot read inventory: No such file or directory")
        inv.vars_dirs.append(path if path.is_dir() else path.parent)
        for f in _source_files(path):
            if f.name in _VARS_DIRS:
                continue
            try:
                _load_file(f, inv, pdir, timeout)
            except RecursionError:
                raise InventoryError(f"{f}: groups are nested too deeply") from None
    try:
        return inv.to_hosts(pdir)
    except RecursionError:
        raise InventoryError("Ansible inventory: groups are nested too deeply") from None
