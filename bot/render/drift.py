"""Drift report -> message builders: the channel summary, the thread's details, and the ``drift`` chat answer.
``bot/drift/render.py`` adds the Waive button's value and the entry points."""

from __future__ import annotations

from collections import Counter
from typing import Callable

from bot.engine.values import fmt_value
from bot.findings import SEVERITY_RANK
from bot.outcome import Outcome
from bot.render.message import (
    Block,
    Button,
    Context,
    DriftGroup,
    DriftLine,
    Heading,
    Item,
    Items,
    Message,
    Notice,
    Paragraph,
)

LENS_LABEL = {
    "baseline": "baseline",
    "known-bad": "known-bad",
    "outlier": "outlier",
    "changed": "changed",
    "persisted": "running ≠ persisted",
}
WORST_DRIFTS = 5
Waivable = Callable[[str, str], "Button | None"]  # (host, key) -> the Waive button, or None


def drift_line(d: dict, button: Button | None = None) -> DriftLine:
    w = d.get("waived")
    waived = (
        f"until {w.get('until') or 'removed'} by {w.get('who') or '?'}: {w.get('reason') or ''}".rstrip(": ")
        if isinstance(w, dict)
        else None
    )
    return DriftLine(
        host=str(d.get("host")),
        key=str(d.get("key")),
        value=fmt_value(d.get("value")),
        expected=str(d.get("expected")),
        lens=LENS_LABEL.get(d.get("kind") or "", str(d.get("kind"))),
        severity=d.get("severity") or "warning",
        finding=d.get("finding"),
        detail=d.get("detail"),
        fix=str(d["fix"]).strip() if d.get("fix") else None,
        waived=waived,
        button=button,
    )


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
    return sorted(
        report.get("drifts", []),
        key=lambda d: (
            SEVERITY_RANK.get(d.get("severity") or "warning", 3),
            kinds.index(d["kind"]) if d.get("kind") in kinds else 9,
            str(d.get("host")),
            str(d.get("key")),
        ),
    )[:n]


def _drift_errors(report: dict) -> list[Block]:
    errors = report.get("errors") or []
    down = [e for e in errors if isinstance(e, dict) and not e.get("probe")]
    if not down:
        return []
    shown = ", ".join(f"{e.get('host')} ({e.get('error') or '?'})" for e in down[:10])
    more = f" …and {len(down) - 10} more" if len(down) > 10 else ""
    return [Notice(f"unreachable: {shown}{more}", "warning")]


def drift_summary_message(
    report: dict,
    *,
    name: str | None = None,
    late: bool = False,
    scheduled_for: str | None = None,
    worst: int = WORST_DRIFTS,
) -> Message:
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


def drift_details_message(
    report: dict, *, waive: Waivable | None = None, max_buttons: int = 50, cli_hint: str = ""
) -> Message:
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
        head.append(
            Context(
                [
                    f"…and {n} more drift{'s' if n != 1 else ''} without a Waive button "
                    f"(at most {max_buttons} per report){': ' + cli_hint if cli_hint else ''}"
                ]
            )
        )
    if report.get("waived"):
        head.append(DriftGroup("Waived", [drift_line(d) for d in report["waived"]]))
    errors = report.get("errors") or []
    if errors:
        head.append(
            Items(
                "Errors",
                [
                    Item(
                        f"{e.get('host')}{(' ' + e['probe']) if e.get('probe') else ''}: {e.get('error')}"
                        if isinstance(e, dict)
                        else str(e),
                        "error",
                    )
                    for e in errors
                ],
            )
        )
    if not head:
        head.append(Paragraph("Nothing to report."))
    return Message(head=head, fallback=drift_fallback(report))


def drift_chat_message(outcome: Outcome) -> Message:
    """`drift` in chat: the summary, then every drift (no buttons: the scheduled report carries them)."""
    summary = drift_summary_message(outcome.data, worst=0)
    details = drift_details_message(outcome.data)
    head: list[Block] = [b for b in summary.head if not isinstance(b, (DriftGroup, Context))]
    head += [b for b in details.head if not isinstance(b, Paragraph)]
    if outcome.text:
        head.insert(1, Paragraph(outcome.text))
    return Message(head=head, fallback=summary.fallback)
