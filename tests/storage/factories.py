"""Evidence, diagnoses and a stand-in diagnose function for the storage tests."""

from __future__ import annotations

from bot.findings import Diagnosis, Finding, Fix
from probes.evidence import ConnectAttempt, ConnectResult, Evidence, HostEvidence, Request


# -- data -------------------------------------------------------------------------------------------
def make_request(host: str = "db01", port: int | None = 5432, who: str = "alice") -> Request:
    return Request(
        text=f"why can't I connect to {host}:{port}",
        target=host,
        address="198.18.0.10",
        port=port,
        vantages=["office", "bot"],
        who=who,
    )


def make_evidence(host: str = "db01", port: int | None = 5432, overflows: int = 120) -> Evidence:
    req = make_request(host, port)
    return Evidence(
        source="replay",
        request=req,
        target=HostEvidence(
            host=host,
            address="198.18.0.10",
            counters_t0={"TcpExt.ListenOverflows": 1000, "TcpExt.ListenDrops": 1000},
            counters_t1={"TcpExt.ListenOverflows": 1000 + overflows, "TcpExt.ListenDrops": 1000 + overflows},
            t0_at=1.0,
            t1_at=6.0,
            sysctls={"net.core.somaxconn": 128},
        ),
        connect=[
            ConnectResult(
                vantage="office",
                vantage_host="office1",
                target_address="198.18.0.10",
                port=port or 0,
                attempts=[
                    ConnectAttempt(outcome="timeout", latency_ms=2000.0),
                    ConnectAttempt(outcome="ok", latency_ms=1.5),
                ],
            )
        ],
        duration_s=5.2,
    )


def make_diagnosis(*ids: str, severity: str = "critical") -> Diagnosis:
    ids = ids or ("listen-queue-overflow",)
    return Diagnosis(
        verdict=f"{ids[0]} on the target",
        findings=[
            Finding(
                id=i,
                severity=severity,
                title=f"title of {i}",
                explanation=f"why {i}",
                evidence=[f"{i}: evidence line"],
                fix=Fix(runtime=f"fix {i}", persistent="p", rollback="r"),
                rule_version="2",
            )
            for i in ids
        ],
    )


def fake_diagnose(evidence: Evidence) -> Diagnosis:
    """Stand-in for the engine: overflow counters → listen-queue-overflow + backlog-undersized (new rule)."""
    delta = evidence.target.counters_delta if evidence.target else {}
    ids = []
    if delta.get("TcpExt.ListenOverflows"):
        ids.append("listen-queue-overflow")
    if (evidence.target and evidence.target.sysctls or {}).get("net.core.somaxconn", 4096) < 1024:
        ids.append("backlog-undersized")
    return make_diagnosis(*ids) if ids else Diagnosis(verdict="nothing found")
