"""Drift report rendering: Block Kit (summary in the channel, details in the thread) and text.

Every string that comes from a host (values, keys, file names, errors) or from the config is
escaped for mrkdwn (``&``, ``<``, ``>``), so a value can never become a mention or a link.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from bot.drift.lenses import KINDS, SEVERITY_RANK, fmt
from bot.drift.waivers import check_waiver_target
from bot.render.escape import terminal
from probes.errors import BadInput

MAX_SECTION = 3000
MAX_BLOCKS = 50
MAX_HEADER = 150
WORST = 5

# The "Waive 30 days" button in the thread details (handled by bot/slack/app.py).
WAIVE_ACTION = "whycant_waive"
WAIVE_DAYS = 30
MAX_WAIVE_BUTTONS = 50  # per report: one thread message's worth; the rest get a "…and N more" note
MAX_BUTTON_VALUE = 2000

LENS_LABEL = {"baseline": "baseline", "known-bad": "known-bad", "outlier": "outlier", "changed": "changed",
              "persisted": "running ≠ persisted"}
SEV_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: Any) -> str:
    return "`" + esc(text).replace("`", "'").replace("\n", " ") + "`"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, 2000)}]}


def counts(report: dict) -> dict[str, int]:
    c = Counter(d["kind"] for d in report.get("drifts", []))
    return {k: c.get(k, 0) for k in KINDS}


def _worst(report: dict, n: int = WORST) -> list[dict]:
    ds = sorted(report.get("drifts", []), key=lambda d: (SEVERITY_RANK.get(d.get("severity") or "warning", 3),
                                                          KINDS.index(d["kind"]) if d["kind"] in KINDS else 9,
                                                          d["host"], d["key"]))
    return ds[:n]


def drift_line(d: dict) -> str:
    """One drift, mrkdwn: host, key, value, expectation, lens, finding id."""
    sev = SEV_EMOJI.get(d.get("severity") or "warning", "•")
    finding = f" [{esc(d['finding'])}]" if d.get("finding") else ""
    return (f"{sev} *{esc(d['host'])}* {code(d['key'])} = {code(fmt(d['value']))}, expected {esc(d['expected'])}"
            f" — _{esc(LENS_LABEL.get(d['kind'], d['kind']))}_{finding}")


def title_for(report: dict, name: str | None = None, late: bool = False) -> str:
    n = len(report.get("drifts", []))
    head = f"Drift report{(' ' + name) if name else ''}: {n} drift{'s' if n != 1 else ''} on {report.get('hosts', 0)} hosts"
    if report.get("errors"):
        unreachable = len({e['host'] for e in report['errors'] if not e.get('probe')})
        if unreachable:
            head += f", {unreachable} unreachable"
    if late:
        head += " (late)"
    return head


def summary_blocks(report: dict, *, name: str | None = None, late: bool = False,
                   scheduled_for: str | None = None) -> list[dict]:
    """The short channel message: counts per lens, the worst items, unreachable hosts."""
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": _cut(title_for(report, name, late), MAX_HEADER)}}]
    c = counts(report)
    parts = [f"*{LENS_LABEL[k]}*: {c[k]}" for k in KINDS]
    waived = len(report.get("waived", []))
    if waived:
        parts.append(f"*waived*: {waived}")
    blocks.append(_section(" · ".join(parts)))
    worst = _worst(report)
    if worst:
        blocks.append(_section("\n".join(drift_line(d) for d in worst)
                               + (f"\n…and {len(report['drifts']) - len(worst)} more in the thread"
                                  if len(report["drifts"]) > len(worst) else "")))
    else:
        blocks.append(_section("No drift. ✅"))
    down = [e for e in report.get("errors", []) if not e.get("probe")]
    if down:
        blocks.append(_section("*Unreachable:* " + ", ".join(f"{esc(e['host'])} ({esc(e.get('error') or '?')})"
                                                             for e in down[:10])
                               + (f" …and {len(down) - 10} more" if len(down) > 10 else "")))
    ctx = []
    if late:
        ctx.append(f"⏰ posted late: this run was due at {esc(scheduled_for or '?')} while no bot replica was running")
    ctx.append(f"taken {esc(report.get('taken_at', ''))} · details in the thread · `whycant drift --json` for machines")
    blocks.append(_context(" · ".join(ctx)))
    return blocks


def _drift_detail(d: dict) -> str:
    lines = [drift_line(d)]
    if d.get("detail"):
        lines.append(f"> {esc(d['detail'])}")
    if d.get("fix"):
        fix = str(d["fix"]).strip()
        lines.append("fix: ```" + esc(_cut(fix, 800)).replace("```", "'''") + "```")
    if d.get("waived"):
        w = d["waived"]
        lines.append(f"waived until {esc(w.get('until') or 'removed')} by {esc(w.get('who') or '?')}: "
                     f"{esc(w.get('reason') or '')}")
    return "\n".join(lines)


def waive_value(host: str, key: str) -> str | None:
    """The button value for a waivable drift (compact JSON), or None when it cannot be one.

    Only a single host (no ``*``, no ``group:``) and a plain sysctl key pass: the same patterns
    ``bot.drift.waivers.check_waiver_target`` applies, so the value never carries markup.
    """
    if not isinstance(host, str) or not isinstance(key, str) or host == "*" or key == "*" \
            or host.startswith("group:"):
        return None
    try:
        check_waiver_target(host, key)
    except BadInput:
        return None
    value = json.dumps({"host": host, "key": key}, separators=(",", ":"))
    return value if len(value) <= MAX_BUTTON_VALUE else None


def parse_waive_value(value: str) -> tuple[str, str] | None:
    """(host, key) from a button value (JSON, or ``host|key``); None when malformed."""
    value = value or ""
    if len(value) > MAX_BUTTON_VALUE:
        return None
    try:
        data = json.loads(value)
        host, key = data["host"], data["key"]
    except (ValueError, TypeError, KeyError):
        host, sep, key = value.partition("|")
        if not sep:
            return None
    if not isinstance(host, str) or not isinstance(key, str) or waive_value(host, key) is None:
        return None
    return host, key


def waive_button(host: str, key: str) -> dict | None:
    value = waive_value(host, key)
    if value is None:
        return None
    question = _cut(f"Accept {key} on {host} as it is for {WAIVE_DAYS} days? "
                    f"It is shown as waived, not as drift, until then.", 300)
    return {"type": "button", "action_id": WAIVE_ACTION,
            "text": {"type": "plain_text", "text": f"Waive {WAIVE_DAYS} days"}, "value": value,
            "confirm": {"title": {"type": "plain_text", "text": "Waive this drift?"},
                        "text": {"type": "plain_text", "text": question},
                        "confirm": {"type": "plain_text", "text": f"Waive {WAIVE_DAYS} days"},
                        "deny": {"type": "plain_text", "text": "Cancel"}}}


def thread_blocks(report: dict, *, buttons: bool = True, max_buttons: int = MAX_WAIVE_BUTTONS) -> list[dict]:
    """Details, one section per host (chunked into messages of 50 blocks by the poster).

    With *buttons*, the first drift of each (host, key) that can be waived gets its own section
    with a "Waive 30 days" button (at most *max_buttons* per report; a context line says how
    many more could be waived from the CLI). The other drifts are grouped per host as text.
    """
    blocks: list[dict] = []
    by_host: dict[str, list[dict]] = {}
    for d in report.get("drifts", []):
        by_host.setdefault(d["host"], []).append(d)
    offered: set[tuple[str, str]] = set()
    over_budget: set[tuple[str, str]] = set()
    for host in sorted(by_host):
        text = f"*{esc(host)}* — {len(by_host[host])} drift(s)\n"
        fresh = True  # text holds nothing but the host's heading
        for d in by_host[host]:
            piece = _drift_detail(d) + "\n"
            target = (d["host"], d["key"])
            button = None
            if buttons and not d.get("waived") and target not in offered:
                button = waive_button(d["host"], d["key"])
                if button is not None and len(offered) >= max_buttons:
                    over_budget.add(target)
                    button = None
            if button is not None:
                offered.add(target)
                if fresh:  # the heading rides on the first item's section
                    blocks.append({**_section(text + piece), "accessory": button})
                else:
                    if text.strip():
                        blocks.append(_section(text))
                    blocks.append({**_section(piece), "accessory": button})
                text, fresh = "", False
                continue
            if text and len(text) + len(piece) > MAX_SECTION - 50:
                blocks.append(_section(text))
                text = f"*{esc(host)}* (cont.)\n"
            text += piece
            fresh = False
        if text.strip() and not fresh:
            blocks.append(_section(text))
    if over_budget:
        n = len(over_budget)
        blocks.append(_context(f"…and {n} more drift{'s' if n != 1 else ''} without a Waive button "
                               f"(at most {max_buttons} per report): "
                               f"`whycant drift waive HOST KEY --until {WAIVE_DAYS}d --reason …`"))
    if report.get("waived"):
        text = "*Waived* (accepted until they expire):\n"
        for d in report["waived"]:
            piece = _drift_detail(d) + "\n"
            if len(text) + len(piece) > MAX_SECTION - 50:
                blocks.append(_section(text))
                text = ""
            text += piece
        blocks.append(_section(text))
    if report.get("errors"):
        lines = [f"• *{esc(e['host'])}*{(' ' + esc(e['probe'])) if e.get('probe') else ''}: {esc(e.get('error'))}"
                 for e in report["errors"]]
        text = "*Errors:*\n"
        for ln in lines:
            if len(text) + len(ln) > MAX_SECTION - 50:
                blocks.append(_section(text))
                text = ""
            text += ln + "\n"
        blocks.append(_section(text))
    if not blocks:
        blocks.append(_section("Nothing to report."))
    return blocks


def fallback_text(report: dict, *, name: str | None = None, late: bool = False) -> str:
    c = counts(report)
    return esc(title_for(report, name, late) + " — " + ", ".join(f"{LENS_LABEL[k]} {c[k]}" for k in KINDS))


def text_report(report: dict) -> str:
    """Console/CLI text (no mrkdwn)."""
    out = [terminal(title_for(report))]
    c = counts(report)
    out.append("  " + ", ".join(f"{LENS_LABEL[k]}: {c[k]}" for k in KINDS)
               + (f", waived: {len(report['waived'])}" if report.get("waived") else ""))
    for d in report.get("drifts", []):
        finding = f" [{d['finding']}]" if d.get("finding") else ""
        out.append(terminal(f"- {d['host']} {d['key']} = {fmt(d['value'])}, expected {d['expected']} "
                            f"({d['kind']}){finding}"))
        if d.get("detail"):
            out.append(terminal(f"    {d['detail']}"))
        if d.get("fix"):
            first = str(d["fix"]).strip().splitlines()
            out.append(terminal(f"    fix: {first[0]}" + (" …" if len(first) > 1 else "")))
    for d in report.get("waived", []):
        w = d.get("waived") or {}
        out.append(terminal(f"~ {d['host']} {d['key']} = {fmt(d['value'])} ({d['kind']}) waived until "
                            f"{w.get('until') or 'removed'}: {w.get('reason') or ''}"))
    for e in report.get("errors", []):
        out.append(terminal(f"! {e['host']}{(' ' + e['probe']) if e.get('probe') else ''}: {e.get('error')}"))
    return "\n".join(out)
