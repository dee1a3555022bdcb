"""Prometheus metrics of the core (diagnoses, probes, storage); served with the Slack ones at /metrics."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

DIAGNOSES = Counter("whycant_diagnoses_total", "Diagnoses run, by outcome", ["outcome"])  # findings|clean|partial
FINDINGS = Counter("whycant_findings_total", "Findings reported, by rule id and severity", ["id", "severity"])
PROBE_ERRORS = Counter("whycant_probe_errors_total", "Failed probes, by probe and kind of error", ["probe", "kind"])
DIAGNOSIS_SECONDS = Histogram("whycant_diagnosis_seconds", "Evidence collection time of one diagnosis",
                              buckets=(1, 2, 5, 6, 7, 10, 15, 30, 60))
STORE_ERRORS = Counter("whycant_store_errors_total", "Incident writes that failed at first (retried in background)")


def observe(evidence, diagnosis, storage_error: str | None = None) -> None:
    """Count one finished diagnosis."""
    outcome = "partial" if diagnosis.partial else ("findings" if diagnosis.findings else "clean")
    DIAGNOSES.labels(outcome).inc()
    for f in diagnosis.findings:
        FINDINGS.labels(f.id, f.severity).inc()
    if evidence.target is not None:
        for p in evidence.target.errors():
            PROBE_ERRORS.labels(p.probe, p.error_kind or "error").inc()
    for c in evidence.connect:
        if c.error:
            PROBE_ERRORS.labels("connect", c.error_kind or "error").inc()
    DIAGNOSIS_SECONDS.observe(evidence.duration_s)
    if storage_error:
        STORE_ERRORS.inc()
