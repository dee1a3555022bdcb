"""Pasted output -> Evidence: what `analyze` in chat and in the console reads.

PLACEHOLDER for the lenient paste reader (issue 10, branch ``pastes``), which
replaces this module at merge with the same signature. This one tries the
whole text as counters (``netstat -s``, ``nstat``, ``/proc/net/netstat``), then
as sysctls (``sysctl -a`` or sysctl.conf), then as listeners (``ss -ltn``),
through ``bot.cli_analyze.build_evidence``.
"""
from __future__ import annotations

from bot.cli_analyze import build_evidence
from probes.errors import BadInput, ParseError
from probes.evidence import Evidence

EXPECTED = ("netstat -s, nstat -az, /proc/net/netstat or /proc/net/snmp counters; sysctl -a or sysctl.conf "
            "lines; ss -ltn listeners")


def read_paste(text: str, *, host: str = "pasted") -> tuple[Evidence, list[str]]:
    """Evidence from one paste, and notes about what was ignored. ``BadInput`` when nothing is recognised."""
    errors: list[str] = []
    for kind in ("after", "sysctl", "listeners"):
        try:
            evidence = build_evidence(**{kind: text}, host=host)
        except ParseError as e:
            errors.append(f"{kind}: {e.message}" + (f" (line {e.line})" if e.line else ""))
            continue
        if _recognised(evidence, kind):
            return evidence, []
    raise BadInput(f"nothing in the paste was recognised; expected {EXPECTED}"
                   + (f" ({errors[0]})" if errors else ""))


def _recognised(evidence: Evidence, kind: str) -> bool:
    t = evidence.target
    if t is None:
        return False
    if kind == "after":
        return bool(t.counters_t1)
    if kind == "sysctl":
        return bool(t.sysctls)
    return bool(t.listeners)
