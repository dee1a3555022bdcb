"""Findings and the diagnosis: what rules produce from evidence (docs/architecture.md §Rules, §Front ends and contracts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


class Fix(BaseModel):
    runtime: str | None = None  # commands to apply now (sysctl -w ...)
    persistent: str | None = None  # /etc/sysctl.d drop-in + sysctl --system
    rollback: str | None = None
    app: str | None = None  # application-side advice (nginx backlog=, PostgreSQL, Java, Go)


class Finding(BaseModel):
    id: str  # contract ids: tcp-tw-recycle, listen-queue-overflow, ...
    severity: Severity
    title: str
    explanation: str
    evidence: list[str] = Field(default_factory=list)
    fix: Fix = Field(default_factory=Fix)
    confidence: float = 1.0  # 0..1
    references: list[str] = Field(default_factory=list)
    rule_version: str = "1"
    score: float = 0.0  # ranking key: higher first

    def contract_dict(self) -> dict:
        """The ``findings[]`` entry of the JSON contract (more keys allowed)."""
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "evidence": list(self.evidence),
            "fix": {
                "runtime": self.fix.runtime,
                "persistent": self.fix.persistent,
                "rollback": self.fix.rollback,
                "app": self.fix.app,
            },
            "confidence": self.confidence,
            "references": list(self.references),
        }


class Diagnosis(BaseModel):
    """Ranked findings plus a one-line verdict, and what was checked and cleared."""

    verdict: str
    findings: list[Finding] = Field(default_factory=list)
    cleared: list[str] = Field(default_factory=list)  # rule ids evaluated and quiet
    skipped: list[str] = Field(default_factory=list)  # rule ids that could not be evaluated (missing evidence)
    partial: bool = False

    @property
    def top_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return min((f.severity for f in self.findings), key=SEVERITY_RANK.__getitem__)
