"""Groups and hosts gathered from Ansible inventory sources, merged with Ansible's precedence.

For one host, lowest to highest (Ansible's default ``VARIABLE_PRECEDENCE`` and
``VariableManager.get_vars``, ansible-core 2.19):

1. inventory-file vars of group ``all``
2. inventory-file vars of the host's other groups, ordered by (depth, ``ansible_group_priority``, name)
3. ``group_vars/all`` beside each inventory source, then beside the playbook directory
4. ``group_vars/GROUP`` beside each inventory source (groups in the order of 2), then beside the playbook directory
5. the host's inventory-file vars
6. ``host_vars/HOST`` beside each inventory source, then beside the playbook directory

Hosts whose vars Ansible already merged (``ansible-inventory --list`` output) take no
vars files: their hostvars are used as they are (step 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.ansible_inventory.hostvars import host_from_vars
from bot.ansible_inventory.varsfiles import VarsFiles
from bot.inventory_checks import NAME_RE, InventoryError, check_group, printable
from probes.inventory import Host

__all__ = ["AnsibleGroup", "AnsibleHost", "AnsibleInventory"]


@dataclass
class AnsibleHost:
    name: str
    vars: dict[str, Any]
    where: str = ""
    complete: bool = False  # vars already merged by Ansible: no group_vars/host_vars files on top


@dataclass
class AnsibleGroup:
    name: str
    vars: dict[str, Any]
    children: set[str]
    hosts: set[str]
    where: str = ""

    @property
    def priority(self) -> int:
        try:
            return int(self.vars.get("ansible_group_priority", 1))
        except (TypeError, ValueError):
            return 1


@dataclass
class AnsibleInventory:
    """Accumulates groups and hosts from one or more Ansible inventory sources."""

    groups: dict[str, AnsibleGroup] = field(default_factory=dict)
    hosts: dict[str, AnsibleHost] = field(default_factory=dict)
    vars_dirs: list[Path] = field(default_factory=list)  # where group_vars/host_vars are looked for, in order

    @property
    def where(self) -> dict[str, str]:
        """host -> "file:line" of its first definition (for error messages)."""
        return {n: h.where for n, h in self.hosts.items()}

    def group(self, name: str, where: str) -> AnsibleGroup:
        check_group(name, "group", where)
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = AnsibleGroup(name, {}, set(), set(), where)
        return g

    def add_host(
        self, name: str, group: str, hvars: Mapping[str, Any], where: str, *, complete: bool = False
    ) -> AnsibleHost:
        if not NAME_RE.match(name):
            raise InventoryError(f"{where}: {printable(name)!r} is not a valid host name")
        h = self.hosts.get(name)
        if h is None:
            h = self.hosts[name] = AnsibleHost(name, {}, where, complete)
        h.vars.update(hvars)
        self.group(group, where).hosts.add(name)
        return h

    def _parents(self) -> dict[str, set[str]]:
        parents: dict[str, set[str]] = {}
        for g in self.groups.values():
            for c in g.children:
                parents.setdefault(c, set()).add(g.name)
        return parents

    def _depths(self) -> dict[str, int]:
        depth = {"all": 0}
        parents = self._parents()

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
        parents = self._parents()
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

    def merged_vars(
        self, name: str, files: VarsFiles | None = None, playbook_dir: Path | None = None
    ) -> tuple[dict[str, Any], dict[str, str], set[str]]:
        """(vars, origin of each var, groups) for host *name*, in Ansible's precedence order."""
        return self._merge(name, self._memberships()[name], self._depths(), files, playbook_dir)

    def _memberships(self) -> dict[str, set[str]]:
        """host -> every group it belongs to (transitively), ``all`` included."""
        ancestors = self._ancestors()
        member: dict[str, set[str]] = {h: {"all"} for h in self.hosts}
        for g in self.groups.values():
            for h in g.hosts:
                member[h] |= ancestors.get(g.name, {g.name})
        return member

    def _merge(
        self, name: str, groups: set[str], depths: dict[str, int], files: VarsFiles | None, playbook_dir: Path | None
    ) -> tuple[dict[str, Any], dict[str, str], set[str]]:
        host = self.hosts[name]
        ordered = sorted(
            (self.groups[g] for g in groups if g in self.groups and g != "all"),
            key=lambda g: (depths.get(g.name, 1), g.priority, g.name),
        )
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}

        def put(values: Mapping[str, Any], where: str) -> None:
            values = {k: v for k, v in values.items() if k != "ansible_group_priority"}  # a group setting
            merged.update(values)
            origin.update(dict.fromkeys(values, where))

        if "all" in self.groups:
            put(self.groups["all"].vars, self.groups["all"].where)
        for g in ordered:
            put(g.vars, g.where)
        if files is not None and not host.complete:
            sides = [*self.vars_dirs], ([playbook_dir] if playbook_dir else [])
            for gnames in (["all"], [g.name for g in ordered]):
                for side in sides:
                    for base in side:
                        for gname in gnames:
                            for path, values in files.layer(base, "group_vars", gname):
                                put(values, str(path))
        put(host.vars, host.where)
        if files is not None and not host.complete:
            for base in [*self.vars_dirs, *([playbook_dir] if playbook_dir else [])]:
                for path, values in files.layer(base, "host_vars", name):
                    put(values, str(path))
        return merged, origin, groups

    def to_hosts(self, playbook_dir: Path | None = None) -> dict[str, Host]:
        """Every host, its vars merged (group_vars/host_vars beside the sources, then *playbook_dir*)."""
        files, depths, member = VarsFiles(), self._depths(), self._memberships()
        out: dict[str, Host] = {}
        for name, h in self.hosts.items():
            merged, origin, groups = self._merge(name, member[name], depths, files, playbook_dir)
            out[name] = host_from_vars(name, merged, groups, h.where, origin)
        return out
