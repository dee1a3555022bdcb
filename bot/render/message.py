"""The platform-neutral reply model, built from an ``Outcome``.

One model, several renderers (``blockkit``, ``text``), golden files for both
(the Botkube way). Strings in the model are raw (unescaped): each renderer
escapes for its own medium. The builder decides *what* to say; renderers
decide how, and how to fit each platform's limits.

A message is ``head`` (verdict, warnings), ``findings`` (ranked, each a unit
that renderers keep or drop whole) and ``tail`` (connect matrix, cleared,
incident line, buttons). Renderers that must drop findings drop the lowest
ranked ones and say "…and N more findings" with their ids.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Union

from bot import commands
from bot.engine.context import fmt_value
from bot.findings import SEVERITY_RANK, Finding
from bot.outcome import Outcome, Progress
from probes.evidence import OUTCOMES, Evidence
from probes.hostport import format_hostport

Level = Literal["critical", "warning", "info", "ok", "error"]

SEVERITY_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵", "ok": "✅", "error": "⛔"}
ACTIONS = commands.BUTTONS  # the incident buttons, in the registry's order
ACTION_LABELS = {c.name: c.button or c.name for c in commands.button_commands()}
ACTION_PREFIX = "whycant_"

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


# ----------------------------------------------------------------- blocks
@dataclass
class Verdict:
    text: str
    level: Level | None = None  # top severity; "ok" when nothing found
    subtitle: str | None = None  # "db01 (198.18.0.10) port 5432 · from office, dc"
    asker: str | None = None  # Slack user id or name


@dataclass
class Notice:
    """A flagged line: partial evidence, storage errors, refusals."""

    text: str
    level: Level = "warning"


@dataclass
class Paragraph:
    text: str


@dataclass
class Heading:
    text: str


@dataclass
class FindingBlock:
    rank: int
    id: str
    severity: str
    title: str
    explanation: str
    evidence: list[str] = field(default_factory=list)
    fixes: list[tuple[str, str]] = field(default_factory=list)  # (runtime|persistent|rollback|app, code)
    confidence: float = 1.0
    references: list[str] = field(default_factory=list)


@dataclass
class Matrix:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # vantage errors


@dataclass
class Context:
    lines: list[str]


@dataclass
class Confirm:
    """A "are you sure?" dialog before a button acts."""

    title: str
    text: str
    confirm: str
    deny: str = "Cancel"


@dataclass
class Button:
    action: str  # a registry command with a button (rerun, ack, ...) or waive
    value: str  # incident id, or the waive target
    style: Literal["primary", "danger"] | None = None
    text: str | None = None  # label, when not the registry's
    confirm: Confirm | None = None

    @property
    def label(self) -> str:
        return self.text or ACTION_LABELS.get(self.action, self.action)

    @property
    def action_id(self) -> str:
        return ACTION_PREFIX + self.action


@dataclass
class Buttons:
    buttons: list[Button]


@dataclass
class Items:
    """A list of short lines (incidents, drifts, history), each optionally with buttons."""

    title: str | None
    items: list["Item"]
    empty: str = "nothing to show"


@dataclass
class Item:
    text: str
    level: Level | None = None
    buttons: list[Button] = field(default_factory=list)


@dataclass
class Divider:
    pass


@dataclass
class DriftLine:
    """One drift: a host's sysctl that misses an expectation under one lens."""

    host: str
    key: str
    value: str  # as sysctl files spell it
    expected: str
    lens: str  # label: baseline, known-bad, outlier, changed, running ≠ persisted
    severity: str = "warning"
    finding: str | None = None
    detail: str | None = None
    fix: str | None = None
    waived: str | None = None  # "until 2026-01-31 by alice: OPS-1"
    button: Button | None = None  # Waive


@dataclass
class DriftGroup:
    """Drifts under one title (a host, "Waived"); renderers keep each line whole and may split the group."""

    title: str | None
    drifts: list[DriftLine]
    details: bool = True  # detail, fix and waiver lines under each drift
    more: str | None = None  # "…and 7 more in the thread"


Block = Union[Verdict, Notice, Paragraph, Heading, FindingBlock, Matrix, Context, Buttons, Items, Divider,
              DriftGroup]


@dataclass
class Message:
    head: list[Block] = field(default_factory=list)
    findings: list[FindingBlock] = field(default_factory=list)
    tail: list[Block] = field(default_factory=list)
    fallback: str = ""  # raw one-line summary; renderers escape it
    ephemeral: bool = False

    @property
    def blocks(self) -> list[Block]:
        return [*self.head, *self.findings, *self.tail]


# ----------------------------------------------------------------- helpers
def format_age(seconds: float | int | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 90:
        return f"{s}s"
    if s < 90 * 60:
        return f"{s // 60}m"
    if s < 36 * 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"


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
    return Matrix(title=f"Connect matrix → {format_hostport(first.target_address, first.port)}", columns=columns, rows=rows, notes=notes)


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


def action_buttons(incident_id: int | None, actions: Iterable[str] = ACTIONS) -> Buttons | None:
    if incident_id is None:
        return None
    styles = {"rerun": "primary", "resolve": "danger"}
    return Buttons([Button(a, str(incident_id), styles.get(a)) for a in actions])  # type: ignore[arg-type]


def incident_context(outcome: Outcome) -> list[Block]:
    inc = outcome.incident
    if inc is None:
        return []
    if inc.storage_error:
        return [Notice(inc.storage_error, "warning")]
    parts: list[str] = []
    if inc.id is not None:
        parts.append(f"Incident #{inc.id}" + (f" · {inc.status}" if inc.status else ""))
    if inc.askers_text:
        parts.append(inc.askers_text)
    elif inc.askers > 1:
        parts.append(f"{inc.askers} people asked")
    if inc.joined:
        parts.append("joined the open incident")
    return [Context(["🗂 " + " · ".join(parts)])] if parts else []


# ----------------------------------------------------------------- builders
def build_message(outcome: Outcome) -> Message:
    """The reply for any ``Outcome`` kind."""
    if outcome.diagnosis is not None:
        msg = _diagnosis(outcome)
    elif outcome.kind == "incidents":
        msg = _incident_list(outcome)
    elif outcome.kind == "drift":
        msg = _drift(outcome)
    elif outcome.kind == "history":
        msg = _history(outcome)
    else:
        msg = _simple(outcome)
    msg.ephemeral = outcome.ephemeral
    return msg


def _diagnosis(outcome: Outcome) -> Message:
    d = outcome.diagnosis
    assert d is not None
    ev = outcome.evidence
    ranked = sorted(d.findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), -f.score))
    level: Level = d.top_severity or "ok"  # type: ignore[assignment]
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
    return Message(head=head, findings=[finding_block(i + 1, f) for i, f in enumerate(ranked)], tail=tail,
                   fallback=fallback)


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


def _simple(outcome: Outcome) -> Message:
    head: list[Block] = []
    text = outcome.text or ""
    if outcome.kind in ("refused",):
        head.append(Notice(text or "you may not do that", "error"))
    elif outcome.kind == "error":
        head.append(Notice(text or "something went wrong", "error"))
    elif text:
        head.append(Paragraph(text))
    tail: list[Block] = list(incident_context(outcome))
    if outcome.kind in ("ack", "resolve", "incident") and outcome.incident and outcome.incident.id is not None:
        actions = ("rerun", "evidence", "verify") if outcome.kind == "resolve" else ACTIONS
        b = action_buttons(outcome.incident.id, actions)
        if b:
            tail.append(b)
    audit = outcome.data.get("audit")
    if isinstance(audit, list) and audit:
        tail.append(Context([_audit_line(a) for a in audit]))
    fallback = text.splitlines()[0] if text else outcome.kind
    return Message(head=head, tail=tail, fallback=fallback)


def _audit_line(a: Any) -> str:
    if isinstance(a, dict):
        who = a.get("who") or a.get("user") or "?"
        return f"{a.get('at', '')} {who} {a.get('action', '')} {a.get('detail', '') or ''}".strip()
    return str(a)


def incident_item(inc: dict, *, with_buttons: bool = False) -> Item:
    host = inc.get("host", "?")
    port = inc.get("port")
    target = format_hostport(str(host), port)
    askers = inc.get("askers")
    if isinstance(askers, list):
        asked = ", ".join(str(a) for a in askers) if askers else "nobody"
    else:
        asked = f"{askers} asked" if askers is not None else ""
    bits = [f"#{inc.get('id')}", target, str(inc.get("status", "?")), f"age {format_age(inc.get('age_s'))}"]
    if asked:
        bits.append(f"asked by {asked}" if isinstance(askers, list) else asked)
    text = " · ".join(bits)
    if inc.get("verdict"):
        text += f"\n{inc['verdict']}"
    buttons = action_buttons(inc.get("id")).buttons if with_buttons and inc.get("id") is not None else []  # type: ignore[union-attr]
    sev = inc.get("severity")
    return Item(text, sev if sev in SEVERITY_EMOJI else None, buttons)


def _incident_list(outcome: Outcome) -> Message:
    incs = outcome.data.get("incidents") or []
    head: list[Block] = []
    if outcome.text:
        head.append(Paragraph(outcome.text))
    head.append(Items("Open incidents", [incident_item(i) for i in incs], empty="no open incidents"))
    return Message(head=head, fallback=f"{len(incs)} incident(s)")


def _history(outcome: Outcome) -> Message:
    rows = outcome.data.get("incidents") or outcome.data.get("history") or []
    head: list[Block] = []
    if outcome.text:
        head.append(Paragraph(outcome.text))
    head.append(Items(outcome.data.get("title") or "History", [incident_item(r) for r in rows], empty="no history"))
    return Message(head=head, fallback=f"{len(rows)} past incident(s)")


# ----------------------------------------------------------------- drift reports
LENS_LABEL = {"baseline": "baseline", "known-bad": "known-bad", "outlier": "outlier", "changed": "changed",
              "persisted": "running ≠ persisted"}
WORST_DRIFTS = 5
Waivable = Callable[[str, str], "Button | None"]  # (host, key) -> the Waive button, or None


def drift_line(d: dict, button: Button | None = None) -> DriftLine:
    w = d.get("waived")
    waived = (f"until {w.get('until') or 'removed'} by {w.get('who') or '?'}: {w.get('reason') or ''}".rstrip(": ")
              if isinstance(w, dict) else None)
    return DriftLine(host=str(d.get("host")), key=str(d.get("key")), value=fmt_value(d.get("value")),
                     expected=str(d.get("expected")), lens=LENS_LABEL.get(d.get("kind") or "", str(d.get("kind"))),
                     severity=d.get("severity") or "warning", finding=d.get("finding"), detail=d.get("detail"),
                     fix=str(d["fix"]).strip() if d.get("fix") else None, waived=waived, button=button)


def drift_counts(report: dict) -> dict[str, int]:
    c = Counter(d.get("kind") for d in report.get("drifts", []))
    return {k: c.get(k, 0) for k in LENS_LABEL}


def drift_title(report: dict, name: str | None = None, late: bool = False) -> str:
    n = len(report.get("drifts", []))
    head = f"Drift report{(' ' + name) if name else ''}: {n} drift{'s' if n != 1 else ''} on {report.get('hosts', 0)} hosts"
    unreachable = len({e.get("host") for e in report.get("errors") or [] if isinstance(e, dict) and not e.get("probe")})
    if unreachable:
        head += f", {unreachable} unreachable"
    return head + (" (late)" if late else "")


def drift_fallback(report: dict, *, name: str | None = None, late: bool = False) -> str:
    c = drift_counts(report)
    return drift_title(report, name, late) + " — " + ", ".join(f"{LENS_LABEL[k]} {c[k]}" for k in LENS_LABEL)


def _worst(report: dict, n: int) -> list[dict]:
    kinds = list(LENS_LABEL)
    return sorted(report.get("drifts", []), key=lambda d: (
        SEVERITY_RANK.get(d.get("severity") or "warning", 3), kinds.index(d["kind"]) if d.get("kind") in kinds else 9,
        str(d.get("host")), str(d.get("key"))))[:n]


def _drift_errors(report: dict) -> list[Block]:
    errors = report.get("errors") or []
    down = [e for e in errors if isinstance(e, dict) and not e.get("probe")]
    if not down:
        return []
    shown = ", ".join(f"{e.get('host')} ({e.get('error') or '?'})" for e in down[:10])
    more = f" …and {len(down) - 10} more" if len(down) > 10 else ""
    return [Notice(f"unreachable: {shown}{more}", "warning")]


def drift_summary_message(report: dict, *, name: str | None = None, late: bool = False,
                          scheduled_for: str | None = None, worst: int = WORST_DRIFTS) -> Message:
    """The short channel message of a drift report: counts per lens, the worst drifts, unreachable hosts."""
    c = drift_counts(report)
    parts = [f"{LENS_LABEL[k]}: {c[k]}" for k in LENS_LABEL]
    if report.get("waived"):
        parts.append(f"waived: {len(report['waived'])}")
    head: list[Block] = [Heading(drift_title(report, name, late)), Paragraph(" · ".join(parts))]
    drifts = report.get("drifts", [])
    if drifts:
        more = f"…and {len(drifts) - worst} more in the thread" if len(drifts) > worst else None
        head.append(DriftGroup(None, [drift_line(d) for d in _worst(report, worst)], details=False, more=more))
    else:
        head.append(Paragraph("No drift. ✅"))
    head += _drift_errors(report)
    ctx = []
    if late:
        ctx.append(f"⏰ posted late: this run was due at {scheduled_for or '?'} while no bot replica was running")
    ctx.append(f"taken {report.get('taken_at', '')} · details in the thread · `whycant drift --json` for machines")
    head.append(Context([" · ".join(ctx)]))
    return Message(head=head, fallback=drift_fallback(report, name=name, late=late))


def drift_details_message(report: dict, *, waive: Waivable | None = None, max_buttons: int = 50,
                          cli_hint: str = "") -> Message:
    """The thread: every drift per host (the first of each waivable host/key with a Waive button, at most
    *max_buttons*), the waived ones, and every error."""
    by_host: dict[str, list[dict]] = {}
    for d in report.get("drifts", []):
        by_host.setdefault(str(d.get("host")), []).append(d)
    offered: set[tuple[str, str]] = set()
    over: set[tuple[str, str]] = set()
    head: list[Block] = []
    for host in sorted(by_host):
        lines = []
        for d in by_host[host]:
            target = (str(d.get("host")), str(d.get("key")))
            button = waive(*target) if waive is not None and not d.get("waived") and target not in offered else None
            if button is not None and len(offered) >= max_buttons:
                over.add(target)
                button = None
            if button is not None:
                offered.add(target)
            lines.append(drift_line(d, button))
        head.append(DriftGroup(f"{host} — {len(lines)} drift(s)", lines))
    if over:
        n = len(over)
        head.append(Context([f"…and {n} more drift{'s' if n != 1 else ''} without a Waive button "
                             f"(at most {max_buttons} per report){': ' + cli_hint if cli_hint else ''}"]))
    if report.get("waived"):
        head.append(DriftGroup("Waived", [drift_line(d) for d in report["waived"]]))
    errors = report.get("errors") or []
    if errors:
        head.append(Items("Errors", [Item(f"{e.get('host')}{(' ' + e['probe']) if e.get('probe') else ''}: "
                                          f"{e.get('error')}" if isinstance(e, dict) else str(e), "error")
                                     for e in errors]))
    if not head:
        head.append(Paragraph("Nothing to report."))
    return Message(head=head, fallback=drift_fallback(report))


def _drift(outcome: Outcome) -> Message:
    """`drift` in chat: the summary, then every drift (no buttons: the scheduled report carries them)."""
    summary = drift_summary_message(outcome.data, worst=0)
    details = drift_details_message(outcome.data)
    head: list[Block] = [b for b in summary.head if not isinstance(b, (DriftGroup, Context))]
    head += [b for b in details.head if not isinstance(b, Paragraph)]
    if outcome.text:
        head.insert(1, Paragraph(outcome.text))
    return Message(head=head, fallback=summary.fallback)


def progress_message(progress: Progress | None, *, target: str | None = None) -> Message:
    """The message shown (and updated) while a diagnosis runs."""
    line = progress.message if progress else "diagnosing…"
    label = f"⏳ {target}: {line}" if target else f"⏳ {line}"
    return Message(head=[Context([label])], fallback=label)


def home_model(incidents: list[dict], drift_summary: str | None = None) -> Message:
    """App Home: open incidents (with buttons) and a recent drift summary slot."""
    head: list[Block] = [Heading("whycant")]
    head.append(Items("Open incidents", [incident_item(i, with_buttons=True) for i in incidents],
                      empty="no open incidents 🎉"))
    head.append(Divider())
    head.append(Heading("Recent drift"))
    head.append(Paragraph(drift_summary or "no drift report yet"))
    return Message(head=head, fallback="whycant home")
