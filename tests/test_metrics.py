"""Core metrics: every diagnosis is counted by outcome, finding and failed probe."""

from __future__ import annotations

from prometheus_client import REGISTRY

from bot import metrics
from bot.engine import build_evidence, diagnose, load_rules


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_counts_findings_and_probe_errors():
    ev = build_evidence(
        {"port": 5432, "listeners": [], "connect": {"office": {"refused": 10}}, "sysctls": {"net.core.somaxconn": 4096}}
    )
    dx = diagnose(ev, load_rules())
    ids = [f.id for f in dx.findings]
    assert "port-not-listening" in ids
    before = value("whycant_findings_total", id="port-not-listening", severity="critical")
    before_dx = sum(value("whycant_diagnoses_total", outcome=o) for o in ("findings", "clean", "partial"))
    metrics.observe(ev, dx)
    assert value("whycant_findings_total", id="port-not-listening", severity="critical") == before + 1
    assert sum(value("whycant_diagnoses_total", outcome=o) for o in ("findings", "clean", "partial")) == before_dx + 1
