"""Prometheus metrics of the core (diagnoses, probes, storage, alerts, drift); served with the Slack ones at /metrics.

Every name and label is listed in docs/production.md; example alerting rules are in docs/alerting-rules.yml.
"""

from __future__ import annotations

from typing import Any, Sequence

from prometheus_client import Counter, Gauge, Histogram

DIAGNOSES = Counter("whycant_diagnoses_total", "Diagnoses run, by outcome", ["outcome"])  # findings|clean|partial
FINDINGS = Counter("whycant_findings_total", "Findings reported, by rule id and severity", ["id", "severity"])
PROBE_ERRORS = Counter("whycant_probe_errors_total", "Failed probes, by probe and kind of error", ["probe", "kind"])
DIAGNOSIS_SECONDS = Histogram(
    "whycant_diagnosis_seconds", "Evidence collection time of one diagnosis", buckets=(1, 2, 5, 6, 7, 10, 15, 30, 60)
)
STORE_ERRORS = Counter("whycant_store_errors_total", "Incident writes that failed at first (retried in background)")
PROBE_SECONDS = Histogram(
    "whycant_probe_seconds",
    "Time of one probe on one host, by probe and the host's group",
    ["probe", "group"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
SSH_ERRORS = Counter(
    "whycant_ssh_errors_total", "Hosts a diagnosis could not reach or run on, by kind of SSH error", ["kind"]
)
OPEN_INCIDENTS = Gauge("whycant_open_incidents", "Incidents open, acked or interrupted (read at scrape time)")
DRIFT_ITEMS = Gauge("whycant_drift_items", "Drifts in the latest drift run, by lens (kind)", ["kind"])
WATCHES = Gauge("whycant_watches", "Watches running (watch mode)")
ALERTS = Counter(
    "whycant_alerts_total",
    "Alertmanager alerts received, by alert status and what became of them",
    ["status", "outcome"],
)
ALERT_NOTIFICATIONS = Counter(
    "whycant_alert_notifications_total", "Alertmanager webhook requests, by result", ["result"]
)
READY = Gauge("whycant_ready", "1 when /readyz answers ready, else 0 (updated by every readiness check)")

SSH_KINDS = frozenset({"connect", "auth", "host-key", "timeout", "transport"})
DRIFT_KINDS = ("baseline", "known-bad", "outlier", "changed", "persisted")
UNGROUPED = "ungrouped"


def observe(evidence: Any, diagnosis: Any, storage_error: str | None = None, group: str | None = None) -> None:
    """Count one finished diagnosis; *group* labels its probe timings (the target's first inventory group)."""
    outcome = "partial" if diagnosis.partial else ("findings" if diagnosis.findings else "clean")
    DIAGNOSES.labels(outcome).inc()
    for f in diagnosis.findings:
        FINDINGS.labels(f.id, f.severity).inc()
    ssh_failed: set[tuple[str, str]] = set()
    if evidence.target is not None:
        for p in evidence.target.probes:
            PROBE_SECONDS.labels(p.probe, group or UNGROUPED).observe(p.duration_s)
        for p in evidence.target.errors():
            PROBE_ERRORS.labels(p.probe, p.error_kind or "error").inc()
            if p.error_kind in SSH_KINDS:
                ssh_failed.add((p.host, p.error_kind))
    for c in evidence.connect:
        PROBE_SECONDS.labels("connect", group or UNGROUPED).observe(c.duration_s)
        if c.error:
            PROBE_ERRORS.labels("connect", c.error_kind or "error").inc()
            if c.error_kind in SSH_KINDS:
                ssh_failed.add((c.vantage_host, c.error_kind))
    for _host, kind in ssh_failed:  # once per host and kind: one dead sshd fails every probe on it
        SSH_ERRORS.labels(kind).inc()
    DIAGNOSIS_SECONDS.observe(evidence.duration_s)
    if storage_error:
        STORE_ERRORS.inc()


def primary_group(groups: Sequence[str]) -> str:
    """The group label of a host: its first inventory group (bounded label values)."""
    return groups[0] if groups else UNGROUPED


def observe_drift(report: dict) -> None:
    """Set the drift gauge from a ``run_drift`` report (every lens, zero when it found nothing);
    count the hosts it could not reach over SSH."""
    for e in report.get("errors") or []:
        if e.get("kind") in SSH_KINDS:
            SSH_ERRORS.labels(e["kind"]).inc()
    counts = dict.fromkeys(DRIFT_KINDS, 0)
    for d in report.get("drifts") or []:
        kind = str(d.get("kind") or "other")
        counts[kind] = counts.get(kind, 0) + 1
    for kind, n in counts.items():
        DRIFT_ITEMS.labels(kind).set(n)


WATCHES.set(0)
