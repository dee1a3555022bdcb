"""``group_vars/`` and ``host_vars/`` files, found the way Ansible's ``host_group_vars`` finds them.

For an entity NAME under BASEDIR/group_vars (or host_vars): a directory ``NAME/``
(every file below it, recursively, sorted, with extension .yml/.yaml/.json or none),
else a file ``NAME`` without extension, else the first of ``NAME.yml``, ``NAME.yaml``,
``NAME.json``. Hidden files and backups (``~``) are ignored. Files are YAML (JSON is
YAML); a file must hold a mapping; an empty file contributes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.ansible_inventory.hostvars import Vaulted
from bot.inventory_checks import InventoryError

__all__ = ["VARS_EXTENSIONS", "VarsFiles", "ansible_loader", "find_vars_files", "load_vars_file"]

VARS_EXTENSIONS = (".yml", ".yaml", ".json")
MAX_VARS_FILE_BYTES = 4 * 1024 * 1024


def ansible_loader(base: type[yaml.SafeLoader] = yaml.SafeLoader, where: str = "") -> type[yaml.SafeLoader]:
    """A SafeLoader that also reads Ansible's ``!unsafe`` (a plain string) and ``!vault`` tags."""

    class Loader(base):  # type: ignore[valid-type, misc]
        pass

    def unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]

    def vault(loader: yaml.SafeLoader, node: yaml.Node) -> Vaulted:
        return Vaulted(f"{where}:{node.start_mark.line + 1}")

    Loader.add_constructor("!unsafe", unsafe)
    Loader.add_constructor("!vault", vault)
    return Loader


def _dir_files(path: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found.extend(_dir_files(entry))
        elif entry.is_file() and (not entry.suffix or entry.suffix in VARS_EXTENSIONS):
            found.append(entry)
    return found


def find_vars_files(basedir: Path, subdir: str, name: str) -> list[Path]:
    """The vars files for *name* under ``basedir/subdir`` in the order Ansible loads them."""
    root = basedir / subdir
    if not root.is_dir():
        return []
    exact = root / name
    if exact.exists():
        return _dir_files(exact) if exact.is_dir() else [exact]
    for ext in VARS_EXTENSIONS:
        candidate = root / f"{name}{ext}"
        if candidate.is_file():
            return [candidate]
    return []


def load_vars_file(path: Path) -> dict[str, Any]:
    """One vars file as a mapping; a clear InventoryError for anything else."""
    try:
        if path.stat().st_size > MAX_VARS_FILE_BYTES:
            raise InventoryError(f"{path}: vars file is larger than {MAX_VARS_FILE_BYTES // 1024 // 1024} MiB")
        text = path.read_text()
    except OSError as e:
        raise InventoryError(f"{path}: cannot read vars file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InventoryError(f"{path}: vars file is not UTF-8 text") from None
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise InventoryError(
            f"{path}: the whole file is encrypted with ansible-vault; whycant cannot decrypt it "
            "(keep the variables whycant needs in a plain file beside it)"
        )
    try:
        data = yaml.load(text, Loader=ansible_loader(where=str(path)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InventoryError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(f"{path}: a vars file must be a mapping of variable: value, not a {type(data).__name__}")
    return {str(k): v for k, v in data.items()}


class VarsFiles:
    """group_vars/host_vars files, each read once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Path, str, str], list[tuple[Path, dict[str, Any]]]] = {}

    def layer(self, basedir: Path, subdir: str, name: str) -> list[tuple[Path, dict[str, Any]]]:
        """(file, vars) for *name* under ``basedir/subdir``, in load order."""
        key = (basedir, subdir, name)
        if key not in self._cache:
            self._cache[key] = [(f, load_vars_file(f)) for f in find_vars_files(basedir, subdir, name)]
        return self._cache[key]
