"""``build_message(outcome)``: the reply for any ``Outcome`` kind, dispatched to the builder for its kind;
the short answers (acks, refusals, errors) and the progress line are built here."""

from __future__ import annotations

from typing import Any

from bot.outcome import Outcome, Progress
from bot.render.diagnosis import diagnosis_message
from bot.render.drift import drift_chat_message
from bot.render.incidents import action_buttons, history_message, incident_context, incident_list_message
from bot.render.message import ACTIONS, Block, Context, Message, Notice, Paragraph


def build_message(outcome: Outcome) -> Message:
    """The reply for any ``Outcome`` kind."""
    if outcome.diagnosis is not None:
        msg = diagnosis_message(outcome)
    elif outcome.kind == "incidents":
        msg = incident_list_message(outcome)
    elif outcome.kind == "drift":
        msg = drift_chat_message(outcome)
    elif outcome.kind == "history":
        msg = history_message(outcome)
    else:
        msg = _simple(outcome)
    msg.ephemeral = outcome.ephemeral
    return msg


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


def progress_message(progress: Progress | None, *, target: str | None = None) -> Message:
    """The message shown (and updated) while a diagnosis runs."""
    line = progress.message if progress else "diagnosing…"
    label = f"⏳ {target}: {line}" if target else f"⏳ {line}"
    return Message(head=[Context([label])], fallback=label)
