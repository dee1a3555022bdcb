"""Test cases next to each rule: the compact evidence form -> a real ``Evidence``,
run through the same ``diagnose`` path as live data (Prometheus/hotsos style).

Compact evidence keys (all optional)::

    target: db01            address: 198.18.0.10     port: 5432
    kernel: 3.10.0-1160.el7.x86_64    mem_gb: 512    cpus: 32
    facts: {...Facts fields...}       conntrack: {count: .., max: .., stats: {drop: ..}}
    sysctls: {net.ipv4.tcp_tw_recycle: 1}            persisted_sysctls: {...}
    counters_t0: {...}  counters_t1: {...}   # or:
    delta: {TcpExt.ListenOverflows: 14}  window_s: 2.0   # t0 synthesised, t1 = t0 + delta
    counters: {...}                                      # one snapshot (no delta)
    listeners: ["0.0.0.0:5432 5/4", "127.0.0.1:6379"]    # "ADDR:PORT [RECVQ/SENDQ]" or dicts
    sockstat: {TCP.tw: 28000}
    connect: {office: {ok: 3, timeout: 7, nat: true}, db01: {refused: 0, ok: 10, local: true}}
    probe_errors: [{probe: listeners, error: "...", kind: parse}]
    ssh_down: true            # every target probe failed to connect over SSH
    drop_reasons: [{reason: NETFILTER_DROP, location: nft_do_chain, count: 10, attribution: target,
                    sources: [198.18.0.20]}]   # traced (attribution defaults to target); or:
    drop_reasons: "unavailable: drop reasons unavailable on db01: tracefs is not mounted"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from bot.engine.runner import diagnose_detail
from probes.evidence import (
    ConnectAttempt,
    ConnectResult,
    DropReason,
    DropTrace,
    Evidence,
    Facts,
    HostEvidence,
    Listener,
    Outcome,
    ProbeRecord,
    Request,
)

_T0 = 1_700_000_000.0


def parse_listener(item: Any) -> Listener:
    if isinstance(item, dict):
        d = dict(item)
        d.setdefault("local_address", d.pop("address", d.pop("addr", "0.0.0.0")))
        d.setdefault("recv_q", 0)
        d.setdefault("send_q", 128)
        if ":" in d["local_address"].strip("[]"):
            d.setdefault("family", "inet6")
        return Listener(**d)
    text = str(item).strip()
    parts = text.split()
    addr_port = parts[0]
    addr, _, port = addr_port.rpartition(":")
    recv_q, send_q = 0, 128
    if len(parts) > 1 and "/" in parts[1]:
        a, b = parts[1].split("/", 1)
        recv_q, send_q = int(a), int(b)
    addr = addr.strip("[]")
    return Listener(
        local_address=addr, port=int(port), recv_q=recv_q, send_q=send_q, family="inet6" if ":" in addr else "inet"
    )


def build_evidence(spec: dict[str, Any]) -> Evidence:
    spec = dict(spec or {})
    name = spec.get("target", "db01")
    address = spec.get("address", "198.18.0.10")
    port = spec.get("port", 5432)
    probes: list[ProbeRecord] = []
    ssh_down = bool(spec.get("ssh_down"))

    def rec(probe: str) -> None:
        probes.append(ProbeRecord(host=name, probe=probe, command=f"<case:{probe}>"))

    host = HostEvidence(host=name, address=address)
    if not ssh_down:
        # counters
        if "delta" in spec:
            delta = spec["delta"] or {}
            t0 = dict(spec.get("counters_t0") or {})
            for k in delta:
                t0.setdefault(k, 1000)
            t1 = dict(t0)
            for k, v in delta.items():
                t1[k] = t0[k] + int(v)
            host.counters_t0, host.counters_t1 = t0, t1
        elif "counters_t0" in spec or "counters_t1" in spec:
            host.counters_t0 = spec.get("counters_t0")
            host.counters_t1 = spec.get("counters_t1")
        elif "counters" in spec:
            host.counters_t0 = dict(spec["counters"] or {})
        if host.counters_t0 is not None:
            host.t0_at = _T0
            rec("counters_t0")
        if host.counters_t1 is not None:
            host.t1_at = _T0 + float(spec.get("window_s", 2.0))
            rec("counters_t1")
        if "sysctls" in spec:
            host.sysctls = dict(spec["sysctls"] or {})
            rec("sysctls")
        if "persisted_sysctls" in spec:
            host.persisted_sysctls = dict(spec["persisted_sysctls"] or {})
            rec("persisted_sysctls")
        if "listeners" in spec:
            host.listeners = [parse_listener(x) for x in (spec["listeners"] or [])]
            rec("listeners")
        if "sockstat" in spec:
            host.sockstat = dict(spec["sockstat"] or {})
            rec("sockstat")
        fd = dict(spec.get("facts") or {})
        if "kernel" in spec:
            fd["kernel_release"] = str(spec["kernel"])
        if "mem_gb" in spec:
            fd["mem_total_kb"] = int(float(spec["mem_gb"]) * 1024 * 1024)
        if "cpus" in spec:
            fd["cpus"] = spec["cpus"]
        ct = spec.get("conntrack")
        if ct:
            fd.setdefault("conntrack_count", ct.get("count"))
            fd.setdefault("conntrack_max", ct.get("max"))
            fd.setdefault("conntrack_stats", ct.get("stats"))
        if "drop_reasons" in spec:
            host.drops = build_drop_trace(name, spec["drop_reasons"], float(spec.get("window_s", 2.0)))
            rec("drop_reasons")
        if fd:
            fd.setdefault("os", "Linux")
            host.facts = Facts(**fd)
            rec("facts")
    else:
        for p in ("counters_t0", "sysctls", "listeners", "facts", "counters_t1"):
            probes.append(
                ProbeRecord(
                    host=name,
                    probe=p,
                    command=f"<case:{p}>",
                    error=f"ssh {address}:22: connection refused",
                    error_kind="connect",
                )
            )
    for pe in spec.get("probe_errors") or []:
        probes.append(
            ProbeRecord(
                host=pe.get("host", name),
                probe=pe["probe"],
                command=f"<case:{pe['probe']}>",
                error=pe.get("error", "failed"),
                error_kind=pe.get("kind"),
            )
        )
        # a failed probe leaves its evidence absent
        attr = {
            "counters_t0": "counters_t0",
            "counters_t1": "counters_t1",
            "sysctls": "sysctls",
            "listeners": "listeners",
            "sockstat": "sockstat",
            "facts": "facts",
        }.get(pe["probe"])
        if attr:
            setattr(host, attr, None)
    host.probes = probes

    connect: list[ConnectResult] = []
    for vantage, row in (spec.get("connect") or {}).items():
        row = dict(row or {})
        attempts: list[ConnectAttempt] = []
        for o in get_args(Outcome):
            for _ in range(int(row.get(o, 0))):
                attempts.append(
                    ConnectAttempt(outcome=o, latency_ms=1.5 if o == "ok" else 2000.0 if o == "timeout" else 0.3)
                )
        vhost = name if row.get("local") else row.get("host", vantage)
        connect.append(
            ConnectResult(
                vantage=vantage,
                vantage_host=vhost,
                target_address="127.0.0.1" if row.get("local") else address,
                port=port,
                attempts=attempts,
                runner="python3",
                error=row.get("error"),
                nat=bool(row.get("nat")),
                note=row.get("note"),
            )
        )

    touched = bool(probes) or ssh_down
    return Evidence(
        source="replay",
        request=Request(
            text=f"why can't I connect to {name}:{port}",
            target=name,
            address=address,
            port=port,
            vantages=list((spec.get("connect") or {}).keys()),
        ),
        target=host if touched else None,
        connect=connect,
    )


def build_drop_trace(host: str, spec: Any, window_s: float) -> DropTrace:
    """The compact ``drop_reasons`` case key -> a ``DropTrace``."""
    if isinstance(spec, str):
        return DropTrace(status="unavailable", detail=spec.split(":", 1)[1].strip() if ":" in spec else spec)
    reasons = [DropReason(host=host, **{"location": "unknown", "count": 1, **r}) for r in (spec or [])]
    return DropTrace(
        status="ok",
        detail=f"{host}: kernel drop reasons traced for {window_s:.1f} s",
        window_s=window_s,
        reasons=reasons,
    )


@dataclass
class CaseResult:
    rule_id: str
    case: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def name(self) -> str:
        return f"{self.rule_id}::{self.case}"


def check_case(rule, case, all_rules=None) -> CaseResult:
    """Run one case of *rule* through ``diagnose`` and compare with its ``expect``."""

    failures: list[str] = []
    try:
        ev = build_evidence(case.evidence)
    except Exception as e:  # noqa: BLE001
        return CaseResult(rule.id, case.name, False, [f"bad case evidence: {type(e).__name__}: {e}"], rule.path)
    detail = diagnose_detail(ev, [rule])
    out = detail.outcomes[0]
    exp = case.expect
    if out.status == "error":
        failures.append(f"rule raised: {out.error}")
    if exp.skipped is not None and (out.status == "skipped") != exp.skipped:
        failures.append(f"expected skipped={exp.skipped}, got {out.status} (missing: {out.missing})")
    fired = out.status == "fired"
    if fired != exp.fires:
        failures.append(
            f"expected fires={exp.fires}, got {out.status}"
            + (f" (missing: {', '.join(out.missing)})" if out.missing else "")
        )
    f = out.finding
    if f is not None:
        ev_text = "\n".join(f.evidence)
        for s in exp.evidence_contains:
            if s not in ev_text:
                failures.append(f"evidence lacks {s!r}; got: {f.evidence}")
        fix_text = "\n".join(x for x in (f.fix.runtime, f.fix.persistent, f.fix.rollback, f.fix.app) if x)
        for s in exp.fix_contains:
            if s not in fix_text:
                failures.append(f"fix lacks {s!r}; got: {fix_text!r}")
        for s in exp.explain_contains:
            if s not in f.explanation:
                failures.append(f"explanation lacks {s!r}; got: {f.explanation!r}")
        for s in exp.verdict_contains:
            if s not in detail.diagnosis.verdict:
                failures.append(f"verdict lacks {s!r}; got: {detail.diagnosis.verdict!r}")
        if exp.confidence_max is not None and f.confidence > exp.confidence_max:
            failures.append(f"confidence {f.confidence} > {exp.confidence_max}")
        if exp.confidence_min is not None and f.confidence < exp.confidence_min:
            failures.append(f"confidence {f.confidence} < {exp.confidence_min}")
    return CaseResult(rule.id, case.name, not failures, failures, rule.path)


def iter_cases(rules):
    for rule in rules:
        for case in rule.spec.cases:
            yield rule, case


def run_cases(rules) -> list[CaseResult]:
    """Every case of every rule. A rule with no positive or no negative case fails too."""
    results = [check_case(r, c) for r, c in iter_cases(rules)]
    for rule in rules:
        kinds = {c.expect.fires for c in rule.spec.cases}
        if kinds != {True, False}:
            results.append(
                CaseResult(
                    rule.id,
                    "(coverage)",
                    False,
                    ["a rule needs at least one case that fires and one near-miss that does not"],
                    rule.path,
                )
            )
    return results
