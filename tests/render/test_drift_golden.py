"""Golden files for drift reports, which go through the same message model as diagnoses.

The scheduled report (summary in the channel, details in the thread, Waive buttons), the CLI
text, and the `drift` chat reply. Regenerate on purpose with ``--update-golden`` and review the diff.
"""

from __future__ import annotations

import json

import pytest

from bot.drift import render
from bot.drift.model import KINDS
from bot.render.blockkit import render_outcome
from bot.render.drift import LENS_LABEL
from bot.render.text import render_text
from tests.render.drift_fixtures import INJECT, drift_outcome, drift_report
from tests.render.test_golden import GOLDEN, _compare
from tests.slack.limits import check_message

CASES = {
    "drift_summary.json": lambda: {
        "text": render.fallback_text(drift_report(), name="weekly-drift", late=True),
        "blocks": render.summary_blocks(
            drift_report(), name="weekly-drift", late=True, scheduled_for="2026-12-02 09:00 UTC"
        ),
    },
    "drift_thread.json": lambda: {"text": "details", "blocks": render.thread_blocks(drift_report(), max_buttons=4)},
    "drift_chat.json": lambda: render_outcome(drift_outcome()),
}
TEXT = {
    "drift_report.txt": lambda: render.text_report(drift_report()) + "\n",
    "drift_chat.txt": lambda: render_text(drift_outcome(), color=False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_drift_blockkit_golden(name, update_golden):
    payload = CASES[name]()
    for i in range(0, len(payload["blocks"]), 50):  # the poster sends the thread 50 blocks at a time
        assert check_message({**payload, "blocks": payload["blocks"][i : i + 50]}) == []
    _compare(GOLDEN / name, json.dumps(payload, indent=2, ensure_ascii=False) + "\n", update_golden)


@pytest.mark.parametrize("name", sorted(TEXT))
def test_drift_text_golden(name, update_golden):
    _compare(GOLDEN / name, TEXT[name](), update_golden)


def test_drift_lenses_and_labels_agree():
    assert tuple(LENS_LABEL) == KINDS


def test_every_drift_and_error_is_named_and_escaped_everywhere():
    blocks = json.dumps(
        render.summary_blocks(drift_report()) + render.thread_blocks(drift_report()), ensure_ascii=False
    )
    text = render.text_report(drift_report())
    for d in drift_report()["drifts"]:
        assert d["key"] in blocks and d["key"] in text
    assert "[tcp-tw-recycle]" in blocks and "[tcp-tw-recycle]" in text
    assert "db06" in blocks and "db07 persisted_sysctls" in text
    assert INJECT not in blocks and "<!channel>" not in blocks and "&lt;!channel&gt;" in blocks
    assert "OPS-1 resize planned" in blocks and "OPS-1 resize planned" in text


def test_thread_buttons_are_capped_and_the_rest_named():
    blocks = render.thread_blocks(drift_report(), max_buttons=4)
    buttons = [b["accessory"] for b in blocks if b.get("accessory")]
    assert len(buttons) == 4 and all(b["action_id"] == render.WAIVE_ACTION for b in buttons)
    assert all(render.parse_waive_value(b["value"]) for b in buttons)
    notes = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any("more drifts without a Waive button (at most 4 per report)" in n for n in notes)
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_chat_drift_reply_is_one_message_within_limits():
    payload = render_outcome(drift_outcome())
    assert check_message(payload) == []
    assert not any(b.get("accessory") for b in payload["blocks"])  # Waive lives on the scheduled report
