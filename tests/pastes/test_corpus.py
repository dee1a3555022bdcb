"""The whole paste corpus: every real paste gives its expected finding ids and none of the forbidden ones."""

from __future__ import annotations

import pytest

from bot.engine import load_rules
from tests.pastes.corpus import CORPUS, check, entries

ENTRIES = entries()


def test_corpus_has_thirty_sourced_pastes():
    assert len(ENTRIES) >= 30
    for e in ENTRIES:
        assert (CORPUS / e["file"]).is_file(), e["file"]
        assert e.get("source", "").startswith("http"), e["file"]
        assert e.get("cause"), e["file"]
        assert "expect" in e, e["file"]
    assert sum(1 for e in ENTRIES if e.get("healthy")) >= 8
    assert sum(1 for e in ENTRIES if e.get("expect")) >= 15


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_paste(entry, rules):
    result = check(entry, rules)
    assert result.ok, f"{entry['file']}: {result.problems} (got {result.ids})"
