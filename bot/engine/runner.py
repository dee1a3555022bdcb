"""Evaluate rules over evidence: findings, ranking, cleared/skipped, and the verdict."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, cast

from bot.engine.context import build_context
from bot.engine.model import Rule
from bot.engine.verdict import make_verdict
from bot.findings import SEVERITY_RANK, Diagnosis, Finding, Fix, Severity
from probes.evidence import Evidence

log = logging.getLogger(__name__)


@dataclass
class RuleOutcome:
    rule: Rule
    status: str  # fired | cleared | skipped | error
    finding: Finding | None = None
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    verdict: str | None = None  # the rule's verdict phrase, when it fired


def unmet_requirements(rule: Rule, ctx: dict[str, Any]) -> list[str]:
    """The ``requires`` entries the evidence cannot satisfy ("a|b" needs either)."""
    avail = ctx["available"]
    return [req for req in rule.spec.requires if not any(avail.get(a.strip()) for a in req.split("|"))]


def _render(tmpl, ctx: dict[str, Any]) -> str | None:
    if tmpl is None:
        return None
    out = "\n".join(line.rstrip() for line in tmpl.render(ctx).strip().splitlines())
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out or None


def _prose(text: str | None) -> str | None:
    """Reflow an explanation: lines join with spaces, blank lines separate paragraphs."""
    if not text:
        return text
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paras if p) or None


def evaluate(rule: Rule, ctx: dict[str, Any]) -> RuleOutcome:
    """One rule over one context. Never raises: a failing rule is an ``error`` outcome."""
    missing = unmet_requirements(rule, ctx)
    if missing:
        return RuleOutcome(rule, "skipped", missing=missing)
    try:
        local = dict(ctx)
        for name, fn in rule.compiled["vars"]:
            local[name] = fn(**local)
        if not rule.compiled["when"](**local):
            return RuleOutcome(rule, "cleared")
        evidence = [
            line.strip()
            for out in (_render(t, local) for t in rule.compiled["evidence"])
            if out
            for line in out.splitlines()
            if line.strip()
        ]
        fix = Fix(**{k: _render(t, local) for k, t in rule.compiled["fix"].items()})
        score = rule.compiled["score"]
        score = float(score(**local) if callable(score) else score or 0)
        conf = rule.compiled["confidence"]
        conf = float(conf(**local) if callable(conf) else conf)
        verdict = _render(rule.compiled["verdict"], local) if rule.compiled["verdict"] else None
        sev_expr = rule.compiled.get("severity")
        severity = str(sev_expr(**local)) if sev_expr else rule.severity
        if severity not in SEVERITY_RANK:
            raise ValueError(f"severity expression gave {severity!r}, not critical, warning or info")
        sev = cast(Severity, severity)
        finding = Finding(
            id=rule.id,
            severity=sev,
            title=rule.title,
            explanation=_prose(_render(rule.compiled["explain"], local)) or rule.title,
            evidence=evidence,
            fix=fix,
            confidence=max(0.0, min(1.0, conf)),
            references=list(rule.spec.references),
            rule_version=str(rule.spec.version),
            score=score,
        )
        return RuleOutcome(rule, "fired", finding=finding, verdict=verdict)
    except Exception as e:  # noqa: BLE001 - a broken rule must not break the diagnosis
        log.warning("rule %s failed: %s: %s", rule.id, type(e).__name__, e)
        return RuleOutcome(rule, "error", error=f"{type(e).__name__}: {e}")


def rank_key(f: Finding) -> tuple:
    return (SEVERITY_RANK[f.severity], -f.score, -f.confidence, f.id)


@dataclass
class DiagnosisDetail:
    """Everything ``diagnose`` knows, for front ends that want more than the Diagnosis."""

    diagnosis: Diagnosis
    outcomes: list[RuleOutcome]
    context: dict[str, Any]

    @property
    def rule_errors(self) -> list[dict]:
        return [{"id": o.rule.id, "file": o.rule.path, "error": o.error} for o in self.outcomes if o.status == "error"]


def diagnose_detail(
    evidence: Evidence, rules: Iterable[Rule], *, vantage_notes: dict[str, str] | None = None
) -> DiagnosisDetail:
    ctx = build_context(evidence, vantage_notes=vantage_notes)
    outcomes = [evaluate(r, ctx) for r in rules]
    findings = sorted((o.finding for o in outcomes if o.finding), key=rank_key)
    skipped_by_error = [
        o
        for o in outcomes
        if o.status == "skipped"
        and any(any(a.strip() in ctx["missing_by_error"] for a in m.split("|")) for m in o.missing)
    ]
    partial = bool(evidence.partial or skipped_by_error)
    diag = Diagnosis(
        verdict=make_verdict(ctx, findings, outcomes, partial),
        findings=findings,
        cleared=[o.rule.id for o in outcomes if o.status == "cleared"],
        skipped=[o.rule.id for o in outcomes if o.status in ("skipped", "error")],
        partial=partial,
    )
    return DiagnosisDetail(diag, outcomes, ctx)


def diagnose(evidence: Evidence, rules: Iterable[Rule], *, vantage_notes: dict[str, str] | None = None) -> Diagnosis:
    """Evaluate every rule over *evidence*; ranked findings, cleared, skipped, verdict."""
    return diagnose_detail(evidence, rules, vantage_notes=vantage_notes).diagnosis
