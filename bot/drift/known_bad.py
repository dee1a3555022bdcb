"""The ``known-bad`` lens: every playbook rule that can judge a host from sysctls and facts alone, run over
an Evidence of just those; each fired finding becomes drifts on the keys it is about."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from bot.drift.model import Drift, same
from bot.engine.runner import diagnose
from probes.evidence import Evidence, HostEvidence

_FIX_ASSIGN = re.compile(r"sysctl\s+(?:-q\s+)?-w\s+([A-Za-z0-9_.\-/]+)=(?:'([^']*)'|\"([^\"]*)\"|(\S+))")
_KEY_IN_TEXT = re.compile(r"\b((?:net|vm|fs|kernel)\.[A-Za-z0-9_.\-/]+[A-Za-z0-9_])")

#: When a rule's fix names no ``sysctl -w``, the keys its finding is about.
FINDING_KEYS: dict[str, tuple[str, ...]] = {
    "tcp-tw-recycle": ("net.ipv4.tcp_tw_recycle",),
    "backlog-undersized": ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"),
    "conntrack-table-full": ("net.netfilter.nf_conntrack_max",),
    "tw-bucket-overflow": ("net.ipv4.tcp_max_tw_buckets",),
    "ephemeral-ports-exhausted": ("net.ipv4.ip_local_port_range",),
    "rcv-buffer-pressure": ("net.ipv4.tcp_rmem", "net.core.rmem_max"),
    "syn-queue-overflow": ("net.ipv4.tcp_max_syn_backlog",),
}


def fix_assignments(runtime: str | None) -> dict[str, str]:
    """``sysctl -w k=v`` assignments in a rule's runtime fix: key -> value text."""
    out: dict[str, str] = {}
    for m in _FIX_ASSIGN.finditer(runtime or ""):
        out[m.group(1)] = next(g for g in m.groups()[1:] if g is not None)
    return out


def known_bad_evidence(
    host: str,
    sysctls: Mapping[str, Any] | None,
    facts: Any,
    persisted: Mapping[str, Any] | None = None,
    address: str | None = None,
):
    """An Evidence with only the target's sysctls and facts: the known-bad lens's input."""
    tgt = HostEvidence(
        host=host,
        address=address,
        sysctls=dict(sysctls) if sysctls is not None else None,
        facts=facts,
        persisted_sysctls=dict(persisted) if persisted is not None else None,
    )
    return Evidence(source="live", target=tgt)


def findings_to_drifts(host: str, findings: Iterable[Any], sysctls: Mapping[str, Any]) -> list[Drift]:
    """One drift per sysctl a fired finding is about (the keys its fix changes, else the keys it cites)."""
    out: list[Drift] = []
    for f in findings:
        runtime = getattr(f.fix, "runtime", None) if getattr(f, "fix", None) else None
        assigns = fix_assignments(runtime)
        keys: list[tuple[str, str | None]] = []
        for k, value in assigns.items():
            if k in sysctls and same(sysctls[k], value):
                continue  # the fix leaves this one as it is
            keys.append((k, value))
        if not keys:
            named = [k for k in FINDING_KEYS.get(f.id, ()) if k in sysctls]
            if not named:
                cited = " ".join(getattr(f, "evidence", []) or [])
                named = [k for k in dict.fromkeys(_KEY_IN_TEXT.findall(cited)) if k in sysctls]
            keys = [(k, None) for k in named] or [("-", None)]
        for k, want in keys:
            expected = f"{want} ({f.title})" if want is not None else f"see [{f.id}]: {f.title}"
            out.append(
                Drift(
                    host,
                    k,
                    sysctls.get(k),
                    expected,
                    "known-bad",
                    finding=f.id,
                    severity=getattr(f, "severity", "warning"),
                    fix=runtime,
                    detail=(getattr(f, "explanation", "") or "").strip().split("\n")[0][:300] or None,
                )
            )
    return out


def lens_known_bad(
    host: str, sysctls: Mapping[str, Any] | None, facts: Any, rules: Any, persisted: Mapping[str, Any] | None = None
) -> list[Drift]:
    """Run every rule over an Evidence of sysctls + facts only; each fired finding becomes drifts."""
    if not sysctls or rules is None:
        return []
    ev = known_bad_evidence(host, sysctls, facts, persisted)
    diag = diagnose(ev, rules)
    return findings_to_drifts(host, diag.findings, sysctls)
