"""The connect part of a rule's context: per-vantage counts (``connect``), which vantages ran, which are
local or NAT'd, and ``vantages_with``, ``vantages_all``, ``describe``, ``attempts_from``."""

from __future__ import annotations

import re
from typing import Any

from bot.engine.values import is_loopback
from probes.evidence import Evidence

_VERB = {
    "ok": "connected",
    "refused": "were refused",
    "timeout": "timed out",
    "reset": "were reset",
    "unreachable": "were unreachable",
    "addr_not_avail": "failed with EADDRNOTAVAIL (no local port)",
    "error": "failed",
}
_NAT_RE = re.compile(r"\bnat(?:'?d|ted)?\b|masquerad", re.I)


def connect_context(
    evidence: Evidence, name: str, address: str | None, vantage_notes: dict[str, str] | None = None
) -> dict[str, Any]:
    """The connect tests of *evidence* against target *name* / *address*; *vantage_notes* as in
    ``build_context``."""
    tgt = evidence.target
    notes = vantage_notes or {}
    connect: dict[str, dict] = {}
    for cr in evidence.connect:
        row = cr.summary()
        note = getattr(cr, "note", None) or notes.get(cr.vantage)
        nat = bool(getattr(cr, "nat", False)) or bool(note and _NAT_RE.search(note))
        local = (
            bool(getattr(cr, "local", None))
            or cr.vantage_host in (name, address)
            or (tgt is not None and cr.vantage_host == tgt.host)
            or is_loopback(cr.target_address)
        )
        row.update(
            {
                "host": cr.vantage_host,
                "address": cr.target_address,
                "nat": bool(nat),
                "note": note,
                "local": local,
                "error": cr.error,
                "ran": bool(cr.attempts),
            }
        )
        row["failed"] = row["attempts"] - row["ok"]
        connect[cr.vantage] = row
    ran = [n for n, r in connect.items() if r["ran"]]
    local_vantage = next((n for n in ran if connect[n]["local"]), None)
    remote_vantages = [n for n in ran if not connect[n]["local"]]

    def vantages_with(
        outcome: str,
        min: int = 1,
        among: list[str] | None = None,  # noqa: A002
        frac: float = 0.0,
    ) -> list[str]:
        """Vantages with at least *min* attempts (and *frac* of their attempts) of *outcome*."""
        names = ran if among is None else among
        return [
            n
            for n in names
            if n in connect
            and connect[n].get(outcome, 0) >= max(min, 1)
            and connect[n].get(outcome, 0) >= frac * connect[n]["attempts"]
        ]

    def vantages_all(outcome: str, among: list[str] | None = None) -> list[str]:
        """Vantages whose every attempt had *outcome*."""
        names = ran if among is None else among
        return [n for n in names if connect[n]["attempts"] and connect[n].get(outcome, 0) == connect[n]["attempts"]]

    def describe(names: list[str] | str, outcome: str) -> str:
        if isinstance(names, str):
            names = [names]
        parts = []
        for i, n in enumerate(names):
            r = connect.get(n)
            if not r:
                continue
            nat = " (NAT'd)" if r["nat"] else ""
            if i == 0:
                parts.append(
                    f"{r.get(outcome, 0)}/{r['attempts']} connects from {n}{nat} {_VERB.get(outcome, outcome)}"
                )
            else:
                parts.append(f"{r.get(outcome, 0)}/{r['attempts']} from {n}{nat}")
        return ", ".join(parts)

    def attempts_from(names: list[str]) -> int:
        return sum(connect[n]["attempts"] for n in names if n in connect)

    return {
        "connect": connect,
        "all_vantages": ran,
        "remote_vantages": remote_vantages,
        "local_vantage": local_vantage,
        "nat_vantages": [n for n in ran if connect[n]["nat"]],
        "vantages_with": vantages_with,
        "vantages_all": vantages_all,
        "describe": describe,
        "attempts_from": attempts_from,
        "has_connect": bool(ran),
        "vantage_errors": [
            {"vantage": n, "host": r["host"], "error": r["error"]} for n, r in connect.items() if r["error"]
        ],
    }
