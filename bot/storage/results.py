"""What the storage API hands back: typed results of incident writes and reads (docs/architecture.md §Storage).

``IncidentRef`` (after an ask), ``IncidentSummary`` (lists), ``IncidentDetail`` (one incident),
``ReplayResult`` (a replay's diff). ``to_dict()`` is the JSON contract of ``whycant incidents ... --json``;
``chat_dict()`` adds what the chat replies show (``severity``, ``askers``, ``age_s``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.findings import SEVERITY_RANK, Diagnosis, Finding
from bot.storage.models import FindingRow, Incident, utcnow
from probes.errors import BadInput
from probes.evidence import Evidence, Request
from probes.hostport import format_hostport


@dataclass
class TargetInfo:
    host: str
    address: str | None = None
    port: int | None = None
    service: str | None = None
    vantages: list[str] = field(default_factory=list)
    text: str | None = None

    @property
    def display(self) -> str:
        return format_hostport(self.host, self.port)


def target_info(request_info: Any, evidence: Evidence | None = None) -> TargetInfo:
    """Accept a ``probes.evidence.Request``, a dict (``host``/``target``, ``address``, ``port``...) or a TargetInfo."""
    if isinstance(request_info, TargetInfo):
        return request_info
    if request_info is None and evidence is not None and evidence.request is not None:
        request_info = evidence.request
    if isinstance(request_info, Request):
        return TargetInfo(
            host=request_info.target,
            address=request_info.address,
            port=request_info.port,
            service=request_info.service,
            vantages=list(request_info.vantages),
            text=request_info.text or None,
        )
    if isinstance(request_info, dict):
        host = request_info.get("host") or request_info.get("target")
        if isinstance(host, dict):  # the ask JSON's {"target": {"host", "address", "port"}}
            request_info = {**request_info, **host}
            host = host.get("host")
        if not host:
            raise BadInput("incident target has no host")
        port = request_info.get("port")
        return TargetInfo(
            host=str(host),
            address=request_info.get("address"),
            port=int(port) if port is not None else None,
            service=request_info.get("service"),
            vantages=list(request_info.get("vantages") or []),
            text=request_info.get("text"),
        )
    raise BadInput(f"cannot tell the incident target from {type(request_info).__name__}")


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


@dataclass
class IncidentRef:
    """What a front end needs after recording an ask."""

    id: int
    joined: bool
    askers: int  # distinct people who asked within the join window, this ask included
    recent_askers_text: str  # "3 people asked about db01:5432 in the last 10 minutes"
    asked_count: int = 1
    status: str = "open"
    target: str = ""
    run: str | None = None  # runner token when opened by start_diagnosis

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IncidentSummary:
    id: int
    host: str
    address: str | None
    port: int | None
    service: str | None
    status: str
    verdict: str | None
    top_severity: str | None
    asked_count: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    channel: str | None
    thread_ts: str | None
    diagnosing: bool
    finding_ids: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)

    @classmethod
    def of(cls, i: Incident, finding_ids: list[str] | None = None) -> IncidentSummary:
        return cls(
            id=i.id,
            host=i.host,
            address=i.address,
            port=i.port,
            service=i.service,
            status=i.status,
            verdict=i.verdict,
            top_severity=i.top_severity,
            asked_count=i.asked_count,
            created_at=i.created_at,
            updated_at=i.updated_at,
            resolved_at=i.resolved_at,
            channel=i.channel,
            thread_ts=i.thread_ts,
            diagnosing=i.diagnosing,
            finding_ids=finding_ids or [],
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "updated_at", "resolved_at"):
            d[k] = iso(d[k])
        d["target"] = self.target
        return d

    def age_s(self, now: datetime | None = None) -> float:
        return max(0.0, ((now or utcnow()) - self.created_at).total_seconds())

    def chat_dict(self) -> dict[str, Any]:
        """``to_dict()`` plus what a chat reply shows: ``severity``, ``askers`` (times asked) and ``age_s``."""
        return {**self.to_dict(), "severity": self.top_severity, "askers": self.asked_count, "age_s": self.age_s()}


@dataclass
class IncidentDetail:
    incident: IncidentSummary
    vantages: list[str]
    request_text: str | None
    opened_by: str | None
    acked_by: str | None
    resolved_by: str | None
    resolution_note: str | None
    reply_ts: str | None
    askers: list[dict[str, Any]]
    findings: list[dict[str, Any]]  # of the latest diagnosis, ranked; contract shape + rule_version
    evidence: list[dict[str, Any]]  # one summary per stored evidence document, oldest first
    latest_evidence: dict[str, Any] | None
    audit: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "incident"}
        return {**self.incident.to_dict(), **d}

    def own_request(self) -> Request:
        """The incident's target as a ``Request`` (when no stored evidence carries one)."""
        i = self.incident
        return Request(
            text=self.request_text or "",
            target=i.host,
            address=i.address or i.host,
            port=i.port,
            service=i.service,
            vantages=self.vantages,
        )

    def chat_dict(self, request: Request) -> dict[str, Any]:
        """``to_dict()`` plus ``severity``, ``age_s`` and ``request`` (a ``Request`` as JSON, for re-runs)."""
        return {
            **self.to_dict(),
            "severity": self.incident.top_severity,
            "age_s": self.incident.age_s(),
            "request": request.model_dump(mode="json"),
        }


@dataclass
class FindingChange:
    id: str
    severity: str
    title: str
    before_severity: str | None = None


@dataclass
class ReplayResult:
    incident_id: int
    evidence_id: int
    before_verdict: str | None
    after_verdict: str
    added: list[FindingChange]
    removed: list[FindingChange]
    changed: list[FindingChange]  # same id, different severity
    unchanged: list[str]
    diagnosis: Diagnosis

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed) or self.before_verdict != self.after_verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident_id,
            "evidence_id": self.evidence_id,
            "before_verdict": self.before_verdict,
            "after_verdict": self.after_verdict,
            "added": [asdict(c) for c in self.added],
            "removed": [asdict(c) for c in self.removed],
            "changed": [asdict(c) for c in self.changed],
            "unchanged": list(self.unchanged),
            "differs": self.differs,
            "findings": [f.contract_dict() for f in self.diagnosis.findings],
        }


def evidence_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A short, human-sized view of one stored Evidence document."""
    out: dict[str, Any] = {"version": data.get("version"), "source": data.get("source")}
    try:
        ev = Evidence.model_validate(data)
    except Exception:  # noqa: BLE001 - a newer/older evidence version: show what we can
        out["keys"] = sorted(data)
        return out
    out["target"] = ev.target.host if ev.target else (ev.request.target if ev.request else None)
    out["connect"] = [c.summary() for c in ev.connect]
    delta = ev.target.counters_delta if ev.target else {}
    out["counters_delta"] = {k: v for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v}
    out["listeners"] = len(ev.target.listeners or []) if ev.target else 0
    out["probe_errors"] = ev.probe_errors()
    out["duration_s"] = ev.duration_s
    return out


def finding_dict(f: FindingRow) -> dict[str, Any]:
    fix = dict(f.fix or {})
    return {
        "id": f.rule_id,
        "severity": f.severity,
        "title": f.title,
        "explanation": f.explanation,
        "evidence": list(f.evidence_lines or []),
        "fix": {
            "runtime": fix.get("runtime"),
            "persistent": fix.get("persistent"),
            "rollback": fix.get("rollback"),
            "app": fix.get("app"),
        },
        "confidence": f.confidence,
        "rule_version": f.rule_version,
        "rank": f.rank,
    }


def top_severity(findings: Iterable[Finding]) -> str | None:
    sev = [f.severity for f in findings]
    return min(sev, key=SEVERITY_RANK.__getitem__) if sev else None
