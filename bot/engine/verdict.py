"""The one-line verdict. Never "all clear" when something could not be checked."""

from __future__ import annotations

from typing import Any

#: How evidence names read in "could not check ..." phrases.
EVIDENCE_WORDS = {
    "target": "the target host",
    "counters": "kernel counters",
    "counters_delta": "counter deltas",
    "sysctls": "sysctls",
    "persisted_sysctls": "persisted sysctls",
    "listeners": "listeners",
    "facts": "host facts",
    "kernel": "kernel version",
    "mem": "memory size",
    "sockstat": "socket summary",
    "conntrack": "conntrack",
    "connect": "connect tests",
}


def _checks(outcomes: list, status: str) -> list[str]:
    seen: list[str] = []
    order = {"critical": 0, "warning": 1, "info": 2}
    for o in sorted(outcomes, key=lambda o: order.get(o.rule.severity, 3)):
        if o.status == status:
            label = o.rule.spec.checks or o.rule.id
            if label not in seen:
                seen.append(label)
    return seen


def _short(items: list[str], n: int = 8) -> str:
    if len(items) <= n:
        return ", ".join(items)
    return ", ".join(items[:n]) + f", … (+{len(items) - n})"


def make_verdict(ctx: dict[str, Any], findings: list, outcomes: list, partial: bool) -> str:
    label = ctx["target"]["label"]
    errors = [o for o in outcomes if o.status == "error"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    not_checked = sorted({EVIDENCE_WORDS.get(m.split("|")[0], m) for o in skipped for m in o.missing})
    tail = ""
    if partial and ctx.get("target_ssh_failed"):
        tail = f" — partial: no SSH to {ctx['target']['name']}, so its counters, sysctls and listeners were not checked"
    elif partial:
        lost = sorted({EVIDENCE_WORDS.get(m, m) for m in ctx["missing_by_error"]}) or [
            f"{p['probe']} on {p['host']}" for p in ctx["probe_errors"]
        ]
        tail = f" — partial: could not check {_short(lost, 6)}"
    elif skipped:
        tail = f" — not checked (no {_short(not_checked, 5)})"
    if errors:
        tail += f"; {len(errors)} rule(s) failed to evaluate"

    if findings:
        top = findings[0]
        phrase = next((o.verdict for o in outcomes if o.finding is top and o.verdict), None) or top.title
        more = f" (+{len(findings) - 1} more finding{'s' if len(findings) > 2 else ''})" if len(findings) > 1 else ""
        return f"{label} {phrase} ({top.severity}){more}{tail}"

    checked = _checks(outcomes, "cleared")
    n = sum(1 for o in outcomes if o.status == "cleared")
    if partial:
        return (
            f"Partial diagnosis of {label}: no fault found in what could be checked "
            f"({_short(checked, 6)}; {n} rules){tail}"
        )
    return f"No fault found on {label} — checked: {_short(checked, 12)} ({n} rules){tail}"
