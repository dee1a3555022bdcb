"""Incident messages: the incident line and its buttons, incident lists, history and App Home."""

from __future__ import annotations

from typing import Iterable

from bot.outcome import Outcome
from bot.render.message import (
    ACTIONS,
    SEVERITY_EMOJI,
    Block,
    Button,
    Buttons,
    Context,
    Divider,
    Heading,
    Item,
    Items,
    Message,
    Notice,
    Paragraph,
)
from probes.hostport import format_hostport


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


def incident_list_message(outcome: Outcome) -> Message:
    """``incidents``: the open incidents."""
    incs = outcome.data.get("incidents") or []
    head: list[Block] = []
    if outcome.text:
        head.append(Paragraph(outcome.text))
    head.append(Items("Open incidents", [incident_item(i) for i in incs], empty="no open incidents"))
    return Message(head=head, fallback=f"{len(incs)} incident(s)")


def history_message(outcome: Outcome) -> Message:
    """``history HOST``: its past incidents."""
    rows = outcome.data.get("incidents") or outcome.data.get("history") or []
    head: list[Block] = []
    if outcome.text:
        head.append(Paragraph(outcome.text))
    head.append(Items(outcome.data.get("title") or "History", [incident_item(r) for r in rows], empty="no history"))
    return Message(head=head, fallback=f"{len(rows)} past incident(s)")


def home_model(incidents: list[dict], drift_summary: str | None = None) -> Message:
    """App Home: open incidents (with buttons) and a recent drift summary slot."""
    head: list[Block] = [Heading("whycant")]
    head.append(
        Items("Open incidents", [incident_item(i, with_buttons=True) for i in incidents], empty="no open incidents 🎉")
    )
    head.append(Divider())
    head.append(Heading("Recent drift"))
    head.append(Paragraph(drift_summary or "no drift report yet"))
    return Message(head=head, fallback="whycant home")
