"""Dynamic inventories: executable scripts, ``ansible-inventory --list`` JSON, and sources
only Ansible understands (inventory plugins) read through ``ansible-inventory`` itself.

Every program runs without a shell, with a fixed argv (the file's own path and fixed
flags; ``--host NAME`` only with a validated inventory name), stdin closed, in the
source's directory, with a timeout and an output cap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.ansible_inventory.model import AnsibleInventory
from bot.inventory_checks import InventoryError, printable

__all__ = [
    "MAX_OUTPUT_BYTES",
    "SCRIPT_TIMEOUT_S",
    "ansible_inventory_command",
    "is_script",
    "load_list_json",
    "load_script",
    "load_with_ansible_inventory",
    "looks_like_list_json",
]

SCRIPT_TIMEOUT_S = 30.0
MAX_OUTPUT_BYTES = 64 * 1024 * 1024


def is_script(path: Path) -> bool:
    """An executable file starting with ``#!`` (what Ansible's script plugin accepts)."""
    if not path.is_file() or not os.access(path, os.X_OK):
        return False
    try:
        with path.open("rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def run_json(argv: list[str], what: str, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Any:
    """Run *argv* (no shell) and parse its stdout as JSON; InventoryError naming *what* otherwise."""
    try:
        r = subprocess.run(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise InventoryError(f"{what}: did not finish within {timeout:g} s") from None
    except OSError as e:
        raise InventoryError(f"{what}: cannot run: {e.strerror or e}") from None
    if r.returncode != 0:
        tail = r.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise InventoryError(
            f"{what}: exited with status {r.returncode}" + (f": {printable(' / '.join(tail), 300)}" if tail else "")
        )
    if len(r.stdout) > MAX_OUTPUT_BYTES:
        raise InventoryError(f"{what}: printed more than {MAX_OUTPUT_BYTES // 1024 // 1024} MiB")
    try:
        return json.loads(r.stdout.decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise InventoryError(f"{what}: did not print JSON ({printable(str(e), 120)})") from None


def looks_like_list_json(data: Any) -> bool:
    """The ``--list`` format (``_meta``, or groups given as lists), not the YAML inventory format."""
    if not isinstance(data, dict):
        return False
    if "_meta" in data:
        return True
    for body in data.values():
        if isinstance(body, list):
            return True
        if isinstance(body, dict) and (isinstance(body.get("hosts"), list) or isinstance(body.get("children"), list)):
            return True
    return False


def load_list_json(
    data: Any, where: str, inv: AnsibleInventory, *, complete: bool, host_vars: Callable[[str], Any] | None = None
) -> None:
    """Groups and hosts from ``--list`` JSON; hostvars from ``_meta.hostvars``, else *host_vars(name)*."""
    if not isinstance(data, dict):
        raise InventoryError(f"{where}: inventory JSON must be an object of groups, not a {type(data).__name__}")
    meta = data.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    if meta is not None and not isinstance(hostvars, dict):
        raise InventoryError(f"{where}: _meta.hostvars must be an object of host: vars")
    inv.group("all", where)
    added: dict[str, None] = {}
    for gname, body in data.items():
        if gname == "_meta":
            continue
        g = inv.group(str(gname), f"{where}: group {printable(str(gname))}")
        if g.name != "all":
            inv.group("all", where).children.add(g.name)
        if isinstance(body, list):
            body = {"hosts": body}
        if not isinstance(body, dict):
            raise InventoryError(f"{where}: group {printable(str(gname))!r} must be a list of hosts or an object")
        for key in ("hosts", "children"):
            if not isinstance(body.get(key, []), list):
                raise InventoryError(f"{where}: {key} of group {printable(str(gname))!r} must be a list")
        gvars = body.get("vars", {})
        if not isinstance(gvars, dict):
            raise InventoryError(f"{where}: vars of group {printable(str(gname))!r} must be an object")
        g.vars.update(gvars)
        for child in body.get("children", []):
            inv.group(str(child), where)
            g.children.add(str(child))
        for h in body.get("hosts", []):
            inv.add_host(str(h), g.name, {}, f"{where}: host {printable(str(h))}", complete=complete)
            added[str(h)] = None
    for name in added:
        if hostvars is not None:
            hv = hostvars.get(name, {})
        elif host_vars is not None:
            hv = host_vars(name)
        else:
            hv = {}
        if not isinstance(hv, dict):
            raise InventoryError(f"{where}: vars of host {printable(name)!r} must be an object")
        inv.hosts[name].vars.update(hv)


def load_script(path: Path, inv: AnsibleInventory, timeout: float = SCRIPT_TIMEOUT_S) -> None:
    """Run an executable inventory with ``--list`` (and ``--host NAME`` per host when ``_meta`` is absent)."""
    argv0 = str(path.resolve())
    deadline = time.monotonic() + 4 * timeout

    def host_vars(name: str) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise InventoryError(
                f"{path}: --host calls took longer than {4 * timeout:g} s in all "
                f"(stopped at {printable(name)}); print _meta.hostvars with --list instead"
            )
        return run_json([argv0, "--host", name], f"{path} --host {printable(name)}", path.parent, min(timeout, left))

    data = run_json([argv0, "--list"], f"{path} --list", path.parent, timeout)
    load_list_json(data, str(path), inv, complete=False, host_vars=host_vars)


def ansible_inventory_command() -> str | None:
    """``ansible-inventory`` beside this Python (a venv), else on PATH, else None."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ansible-inventory")


def load_with_ansible_inventory(
    path: Path, inv: AnsibleInventory, *, why: str, playbook_dir: Path | None = None, timeout: float = SCRIPT_TIMEOUT_S
) -> None:
    """Let ``ansible-inventory -i PATH --list`` read a source (e.g. a plugin config); its hostvars
    are complete (Ansible applied group_vars/host_vars), so no vars files are added on top."""
    cmd = ansible_inventory_command()
    if cmd is None:
        raise InventoryError(
            f"{path}: {why}; reading it needs ansible-inventory (pip install ansible-core), which is not installed"
        )
    argv = [cmd, "-i", str(path.resolve()), "--list"]
    if playbook_dir is not None:
        argv += ["--playbook-dir", str(playbook_dir)]
    env = {
        **os.environ,
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "LC_ALL": "C.UTF-8",
    }
    data = run_json(argv, f"ansible-inventory -i {path}", path.parent, timeout, env)
    load_list_json(data, str(path), inv, complete=True)
