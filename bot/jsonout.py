"""The ``--json`` shapes of ``ask`` and ``analyze`` (docs/architecture.md §Front ends and contracts)."""

from __future__ import annotations

from typing import Any

from bot.outcome import Outcome
from probes.evidence import DropTrace


def diagnosis_json(outcome: Outcome) -> dict[str, Any]:
    ev, dx, req = outcome.evidence, outcome.diagnosis, outcome.request
    target = None
    if req is not None:
        target = {
            "host": req.target,
            "address": req.address,
            "resolved_address": req.resolved_address,
            "port": req.port,
            "service": req.service,
        }
    out: dict[str, Any] = {
        "incident": outcome.incident.id if outcome.incident else None,
        "target": target,
        "verdict": dx.verdict if dx else (outcome.text or ""),
        "findings": [f.contract_dict() for f in dx.findings] if dx else [],
        "connect": [c.summary() for c in ev.connect] if ev else [],
        "counters_delta": dict(sorted((ev.target.counters_delta if ev and ev.target else {}).items())),
        "drop_reasons": drop_reasons_json(ev.target.drops if ev and ev.target else None),
        "drop_reasons_status": ev.target.drops.detail if ev and ev.target and ev.target.drops else None,
        "probe_errors": ev.probe_errors() if ev else [],
        # how the target's files were read, what it could not read, what was cut short (docs/ssh.md)
        "file_access": ev.target.file_access if ev and ev.target else None,
        "unreadable": dict(ev.target.unreadable) if ev and ev.target else {},
        "notes": list(ev.target.notes) if ev and ev.target else [],
        "duration_s": ev.duration_s if ev else 0.0,
        "partial": bool(dx.partial) if dx else False,
        "cleared": list(dx.cleared) if dx else [],
        "skipped": list(dx.skipped) if dx else [],
    }
    if outcome.incident:
        out["incident_detail"] = outcome.incident.model_dump()
    if outcome.text:
        out["note"] = outcome.text
    return out


def drop_reasons_json(trace: DropTrace | None) -> list[dict[str, Any]]:
    """``drop_reasons``: the target's kernel drops by reason and location (docs/drop-reasons.md)."""
    if trace is None:
        return []
    return [r.model_dump(include={"host", "reason", "location", "count", "attribution"}) for r in trace.reasons]
