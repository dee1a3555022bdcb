"""Drift reports through the one message model: Block Kit (summary in the channel, details in the thread) and text.

What a report says is built once, in ``bot.render.drift`` (``drift_summary_message``,
``drift_details_message``); the renderers escape every host string and fit Slack's limits,
as for diagnoses. This module adds what is drift's own: the "Waive 30 days" button (its
value is validated by the waiver rules, so it never carries markup) and the entry points
the scheduler, the CLI and the tests call.
"""

from __future__ import annotations

import json

from bot.drift.waivers import check_waiver_target
from bot.render.blockkit import fallback_text as blockkit_fallback
from bot.render.blockkit import render_block, render_blocks
from bot.render.drift import drift_details_message, drift_summary_message
from bot.render.message import Button, Confirm, Message
from bot.render.text import render_message_text
from probes.errors import BadInput

# The "Waive 30 days" button in the thread details (handled by bot/slack/buttons.py).
WAIVE = "waive"
WAIVE_ACTION = "whycant_waive"
WAIVE_DAYS = 30
MAX_WAIVE_BUTTONS = 50  # per report: one thread message's worth; the rest get a "…and N more" note
MAX_BUTTON_VALUE = 2000
CLI_HINT = f"`whycant drift waive HOST KEY --until {WAIVE_DAYS}d --reason …`"


def waive_value(host: str, key: str) -> str | None:
    """The button value for a waivable drift (compact JSON), or None when it cannot be one.

    Only a single host (no ``*``, no ``group:``) and a plain sysctl key pass: the same patterns
    ``bot.drift.waivers.check_waiver_target`` applies, so the value never carries markup.
    """
    if not isinstance(host, str) or not isinstance(key, str) or host == "*" or key == "*" or host.startswith("group:"):
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


def waive_button(host: str, key: str) -> Button | None:
    value = waive_value(host, key)
    if value is None:
        return None
    question = (
        f"Accept {key} on {host} as it is for {WAIVE_DAYS} days? It is shown as waived, not as drift, until then."
    )
    return Button(
        WAIVE,
        value,
        text=f"Waive {WAIVE_DAYS} days",
        confirm=Confirm("Waive this drift?", question, f"Waive {WAIVE_DAYS} days"),
    )


def details_message(report: dict, *, buttons: bool = True, max_buttons: int = MAX_WAIVE_BUTTONS) -> Message:
    return drift_details_message(
        report, waive=waive_button if buttons else None, max_buttons=max_buttons, cli_hint=CLI_HINT
    )


def summary_blocks(
    report: dict, *, name: str | None = None, late: bool = False, scheduled_for: str | None = None
) -> list[dict]:
    """The short channel message: counts per lens, the worst items, unreachable hosts."""
    return render_blocks(drift_summary_message(report, name=name, late=late, scheduled_for=scheduled_for))


def thread_blocks(report: dict, *, buttons: bool = True, max_buttons: int = MAX_WAIVE_BUTTONS) -> list[dict]:
    """Details, one group per host; not cut at 50 blocks (the poster sends them as several messages)."""
    return [
        x for b in details_message(report, buttons=buttons, max_buttons=max_buttons).blocks for x in render_block(b)
    ]


def fallback_text(report: dict, *, name: str | None = None, late: bool = False) -> str:
    return blockkit_fallback(drift_summary_message(report, name=name, late=late))


def text_report(report: dict) -> str:
    """Console/CLI text: the summary and every drift (no buttons)."""
    summary = drift_summary_message(report)
    details = details_message(report, buttons=False)
    head = [summary.head[0], summary.head[1], *details.head]
    return render_message_text(Message(head=head), color=False).rstrip("\n")
