"""Golden files for three representative diagnoses, Block Kit and plain text.

Paste ``golden/*.json`` into Block Kit Builder to see them. Regenerate on
purpose with ``--update-golden`` (or ``WHYCANT_UPDATE_GOLDEN=1``) and review
the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.render.blockkit import render_outcome
from bot.render.text import render_text
from tests.render.fixtures import CASES
from tests.slack.limits import check_message

GOLDEN = Path(__file__).parent / "golden"


def _compare(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        path.write_text(actual)
        if not update:
            pytest.fail(f"{path.name} did not exist; written — review it and rerun")
        return
    expected = path.read_text()
    assert actual == expected, f"{path.name} differs; rerun with --update-golden if intended"


@pytest.mark.parametrize("name", sorted(CASES))
def test_blockkit_golden(name, update_golden):
    payload = render_outcome(CASES[name]())
    assert check_message(payload) == []
    _compare(GOLDEN / f"{name}.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n", update_golden)


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_golden(name, update_golden):
    _compare(GOLDEN / f"{name}.txt", render_text(CASES[name](), color=False), update_golden)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_shown_finding_has_its_id_in_brackets(name):
    outcome = CASES[name]()
    blocks = json.dumps(render_outcome(outcome), ensure_ascii=False)
    text = render_text(outcome, color=False)
    for f in outcome.diagnosis.findings:
        assert f"[{f.id}]" in blocks
        assert f"[{f.id}]" in text


def test_many_findings_are_cut_visibly_at_fifty_blocks():
    payload = render_outcome(CASES["many_findings"]())
    blocks = payload["blocks"]
    assert len(blocks) == 50
    notes = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"] if "more findings" in e["text"]]
    assert notes and notes[0].startswith("…and ")
    assert blocks[-1]["type"] == "actions"  # buttons survive truncation
    assert {e["action_id"] for e in blocks[-1]["elements"]} == {
        "whycant_rerun",
        "whycant_ack",
        "whycant_resolve",
        "whycant_evidence",
        "whycant_verify",
    }
    assert all(e["value"] == "42" for e in blocks[-1]["elements"])
    # the connect matrix and the incident line are kept too
    flat = json.dumps(blocks, ensure_ascii=False)
    assert "Connect matrix" in flat and "3 people asked" in flat
    # long evidence and fixes are cut inside a finding with a visible marker
    assert "more evidence lines" in flat and "more lines" in flat


def test_partial_is_flagged_on_top():
    payload = render_outcome(CASES["partial"]())
    top = payload["blocks"][2]["text"]["text"]
    assert top.startswith("⚠ partial: could not read counters on db01 (ssh: connection refused)")
    assert "incident not stored" in json.dumps(payload, ensure_ascii=False)
    assert not any(b["type"] == "actions" for b in payload["blocks"])  # no incident, no buttons
