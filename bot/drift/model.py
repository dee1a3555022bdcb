"""A drift (a host's key that misses an expectation under one lens), the lens kinds, and how sysctl
values compare (``normalize``, ``same``): what every lens shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.findings import SEVERITY_RANK

KINDS = ("baseline", "known-bad", "outlier", "changed", "persisted")

#: Never compared by the outlier, changed and persisted lenses: they are counts or identities, not settings.
VOLATILE_KEYS = frozenset(
    {
        "net.netfilter.nf_conntrack_count",
        "kernel.random.boot_id",
        "kernel.hostname",
        "kernel.ns_last_pid",
        "fs.file-nr",
        "fs.inode-nr",
        "fs.inode-state",
        "fs.dentry-state",
        "kernel.random.entropy_avail",
        "kernel.random.uuid",
    }
)

SysctlValue = Any  # int | list[int] | str | None


@dataclass
class Drift:
    """One drift: a host's key whose value misses an expectation under one lens."""

    host: str
    key: str
    value: SysctlValue
    expected: str
    kind: str  # one of KINDS
    finding: str | None = None
    severity: str = "warning"
    fix: str | None = None  # runtime fix (from the rule, or a computed sysctl -w)
    detail: str | None = None  # where the expectation comes from (group, file, date...)
    waived: dict[str, Any] | None = None

    def contract(self) -> dict[str, Any]:
        """The ``drifts[]`` entry of ``drift --json`` (docs/architecture.md §Front ends and contracts; a few additive keys)."""
        out: dict[str, Any] = {
            "host": self.host,
            "key": self.key,
            "value": self.value,
            "expected": self.expected,
            "kind": self.kind,
            "finding": self.finding,
            "severity": self.severity,
            "fix": self.fix,
            "detail": self.detail,
        }
        if self.waived is not None:
            out["waived"] = dict(self.waived)
        return out

    @property
    def sort_key(self) -> tuple:
        return (
            SEVERITY_RANK.get(self.severity, 3),
            KINDS.index(self.kind) if self.kind in KINDS else 9,
            self.host,
            self.key,
        )


def normalize(v: Any) -> SysctlValue:
    """Canonical form for comparing values: ints, int vectors, or whitespace-collapsed strings."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    if isinstance(v, (list, tuple)):
        items = [normalize(x) for x in v]
        return items[0] if len(items) == 1 else items
    s = str(v).strip()
    tokens = s.split()
    if tokens and all(re.fullmatch(r"-?\d+", t) for t in tokens):
        return int(tokens[0]) if len(tokens) == 1 else [int(t) for t in tokens]
    return " ".join(tokens)


def same(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)
