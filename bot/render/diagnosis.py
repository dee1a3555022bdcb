"""The diagnosis -> message builder: verdict, partial-evidence notice, ranked findings, connect matrix,
what was cleared, the incident line and its buttons."""

from __future__ import annotations

from typing import Any

from bot import commands
from bot.findings import SEVERITY_RANK, Finding
from bot.outcome import Outcome
from bot.render.incidents import action_buttons, incident_context
from bot.render.message import (
    ACTIONS,
    SEVERITY_EMOJI,
    Block,
    Context,
    FindingBlock,
    Level,
    Matrix,
    Message,
    Notice,
    Paragraph,
    Verdict,
)
from probes.evidence import OUTCOMES, Evidence
from probes.hostport import format_hostport

PROBE_WORDS = {
    "counters_t0": "read counters",
    "counters_t1": "read counters",
    "sysctls": "read sysctls",
    "persisted_sysctls": "read persisted sysctls",
    "listeners": "list listeners",
    "sockstat": "read socket stats",
    "facts": "read host facts",
    "conntrack": "read conntrack",
    "resolve": "resolve its address",
}


def target_label(outcome: Outcome) -> str | None:
    req = outcome.request or (outcome.evidence.request if outcome.evidence else None)
    if req is None:
        return None
    where = req.target
    shown = [a for a in (req.address if req.address != req.target else None, req.resolved_address) if a]
    if shown:  # name, then the IP a DNS name resolved to: "db01 (db01.test, 198.18.5.10)"
        where += f" ({', '.join(shown)})"
    if req.port:
        where += f" port {req.port}"
    return where


def partial_lines(evidence: Evidence | None) -> list[str]:
    """One "could not …" line per distinct failure, counters_t0/t1 folded together."""
    if evidence is None:
        return []
    seen: set[tuple[str, str]] = set()
    out: list[str] = []
    for err in evidence.probe_errors():
        probe = err.get("probe") or "probe"
        if probe.startswith("connect:"):
            what = f"run the connect test from {probe.split(':', 1)[1]}"
        else:
            what = PROBE_WORDS.get(probe, f"run {probe}")
        key = (what, err.get("host") or "")
        if key in seen:
            continue
        seen.add(key)
        out.append(f"could not {what} on {err.get('host')} ({err.get('error')})")
    return out


def connect_matrix(evidence: Evidence | None) -> Matrix | None:
    if evidence is None or not evidence.connect:
        return None
    first = evidence.connect[0]
    columns = ["vantage", "ok", "refused", "timeout", "reset", "unreach", "no-port", "error", "p50"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for c in evidence.connect:
        s = c.summary()
        n = s["attempts"]
        if c.error and not n:
            rows.append([c.vantage, "-", "-", "-", "-", "-", "-", "-", "-"])
            notes.append(f"{c.vantage} ({c.vantage_host}): {c.error}")
            continue
        p50 = f"{s['p50_ms']:.1f}ms" if s["p50_ms"] is not None else "-"
        rows.append([c.vantage, f"{s['ok']}/{n}", *(str(s[o]) for o in OUTCOMES[1:]), p50])
        if c.error:
            notes.append(f"{c.vantage} ({c.vantage_host}): {c.error}")
    return Matrix(
        title=f"Connect matrix → {format_hostport(first.target_address, first.port)}",
        columns=columns,
        rows=rows,
        notes=notes,
    )


def finding_block(rank: int, f: Finding) -> FindingBlock:
    fixes = [(label, getattr(f.fix, label)) for label in ("runtime", "persistent", "rollback", "app")]
    return FindingBlock(
        rank=rank,
        id=f.id,
        severity=f.severity,
        title=f.title,
        explanation=f.explanation,
        evidence=list(f.evidence),
        fixes=[(label, text) for label, text in fixes if text],
        confidence=f.confidence,
        references=list(f.references),
    )


def diagnosis_message(outcome: Outcome) -> Message:
    """The reply to a diagnosis (asked, pasted, re-run or verified)."""
    d = outcome.diagnosis
    assert d is not None
    ev = outcome.evidence
    ranked = sorted(d.findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), -f.score))
    level: Level = d.top_severity or "ok"
    req = outcome.request or (ev.request if ev else None)
    sub = target_label(outcome)
    if req and req.vantages:
        sub = (sub + " · " if sub else "") + "from " + ", ".join(req.vantages)
    head: list[Block] = [Verdict(d.verdict, level, sub, req.who if req else None)]
    partial = [f"partial: {line}" for line in partial_lines(ev)]
    if d.partial and not partial:
        partial = ["partial: some evidence could not be collected"]
    if partial:
        head.append(Notice("\n".join(partial), "warning"))
    if outcome.text:
        head.append(Paragraph(outcome.text))
    diff = before_after_text(outcome)
    if diff:
        head.insert(1, Paragraph(diff))

    tail: list[Block] = []
    matrix = connect_matrix(ev)
    if matrix:
        tail.append(matrix)
    ctx: list[str] = []
    if d.cleared:
        ctx.append(f"✅ checked and cleared ({len(d.cleared)}): " + ", ".join(d.cleared))
    if d.skipped:
        ctx.append(f"⏭ not evaluated, evidence missing ({len(d.skipped)}): " + ", ".join(d.skipped))
    if ev is not None:
        ctx.append(f"⏱ {ev.duration_s:.1f}s · evidence v{ev.version} · {ev.source}")
    if ctx:
        tail.append(Context(ctx))
    tail.extend(incident_context(outcome))
    inc_id = outcome.incident.id if outcome.incident else None
    actions = ACTIONS
    if outcome.data.get("pasted"):  # nothing to re-probe for a paste
        actions = tuple(a for a in ACTIONS if not commands.get(a).probes)  # type: ignore[union-attr]
    buttons = action_buttons(inc_id, actions)
    if buttons:
        tail.append(buttons)

    ids = " ".join(f"[{f.id}]" for f in ranked)
    fallback = f"{SEVERITY_EMOJI[level]} {d.verdict}" + (f" {ids}" if ids else "")
    if outcome.data.get("auto_resolved"):
        fallback += f" · verified: findings gone, incident #{inc_id} resolved"
    return Message(
        head=head, findings=[finding_block(i + 1, f) for i, f in enumerate(ranked)], tail=tail, fallback=fallback
    )


def before_after_text(outcome: Outcome) -> str | None:
    """Re-run / Verify fix: which finding ids were there before, which are now, and what that did."""
    ba = outcome.data.get("before_after")
    if not isinstance(ba, dict):
        return None

    def ids(xs: Any) -> str:
        return " ".join(f"[{x}]" for x in xs or []) or "none"

    label = "Verify fix" if outcome.data.get("action") == "verify" else "Re-run"
    lines = [f"{label}: before {ids(ba.get('before'))} → after {ids(ba.get('after'))}"]
    if ba.get("gone"):
        lines.append(f"gone: {ids(ba['gone'])}")
    if ba.get("new"):
        lines.append(f"new: {ids(ba['new'])}")
    inc_id = outcome.incident.id if outcome.incident else None
    if outcome.data.get("auto_resolved"):
        lines.append(f"✅ the findings are gone: incident #{inc_id} resolved automatically")
    elif outcome.data.get("action") == "verify":
        still = sorted(set(ba.get("before") or []) & set(ba.get("after") or []))
        if still:
            lines.append(f"not fixed yet, still found: {ids(still)}")
    return "\n".join(lines)
