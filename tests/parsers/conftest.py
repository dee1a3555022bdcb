"""Shared paths for the parser tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PUBLIC = FIXTURES / "public"
CAPTURED = FIXTURES / "captured"


def read(rel: str) -> str:
    """A fixture's text, by path relative to tests/fixtures/."""
    return (FIXTURES / rel).read_text()
