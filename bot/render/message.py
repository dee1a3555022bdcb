"""The platform-neutral reply model: the blocks a message is made of.

One model, several renderers (``blockkit``, ``text``), golden files for both
(the Botkube way). Strings in the model are raw (unescaped): each renderer
escapes for its own medium. The builders (``bot.render.build`` and the
modules it dispatches to) decide *what* to say; renderers decide how, and how
to fit each platform's limits.

A message is ``head`` (verdict, warnings), ``findings`` (ranked, each a unit
that renderers keep or drop whole) and ``tail`` (connect matrix, cleared,
incident line, buttons). Renderers that must drop findings drop the lowest
ranked ones and say "…and N more findings" with their ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from bot import commands

Level = Literal["critical", "warning", "info", "ok", "error"]

SEVERITY_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵", "ok": "✅", "error": "⛔"}
ACTIONS = commands.BUTTONS  # the incident buttons, in the registry's order
ACTION_LABELS = {c.name: c.button or c.name for c in commands.button_commands()}
ACTION_PREFIX = "whycant_"


# ----------------------------------------------------------------- blocks
@dataclass
class Verdict:
    text: str
    level: Level | None = None  # top severity; "ok" when nothing found
    subtitle: str | None = None  # "db01 (198.18.0.10) port 5432 · from office, dc"
    asker: str | None = None  # Slack user id or name


@dataclass
class Notice:
    """A flagged line: partial evidence, storage errors, refusals."""

    text: str
    level: Level = "warning"


@dataclass
class Paragraph:
    text: str


@dataclass
class Heading:
    text: str


@dataclass
class FindingBlock:
    rank: int
    id: str
    severity: str
    title: str
    explanation: str
    evidence: list[str] = field(default_factory=list)
    fixes: list[tuple[str, str]] = field(default_factory=list)  # (runtime|persistent|rollback|app, code)
    confidence: float = 1.0
    references: list[str] = field(default_factory=list)


@dataclass
class Matrix:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # vantage errors


@dataclass
class Context:
    lines: list[str]


@dataclass
class Confirm:
    """A "are you sure?" dialog before a button acts."""

    title: str
    text: str
    confirm: str
    deny: str = "Cancel"


@dataclass
class Button:
    action: str  # a registry command with a button (rerun, ack, ...) or waive
    value: str  # incident id, or the waive target
    style: Literal["primary", "danger"] | None = None
    text: str | None = None  # label, when not the registry's
    confirm: Confirm | None = None

    @property
    def label(self) -> str:
        return self.text or ACTION_LABELS.get(self.action, self.action)

    @property
    def action_id(self) -> str:
        return ACTION_PREFIX + self.action


@dataclass
class Buttons:
    buttons: list[Button]


@dataclass
class Items:
    """A list of short lines (incidents, drifts, history), each optionally with buttons."""

    title: str | None
    items: list["Item"]
    empty: str = "nothing to show"


@dataclass
class Item:
    text: str
    level: Level | None = None
    buttons: list[Button] = field(default_factory=list)


@dataclass
class Divider:
    pass


@dataclass
class DriftLine:
    """One drift: a host's sysctl that misses an expectation under one lens."""

    host: str
    key: str
    value: str  # as sysctl files spell it
    expected: str
    lens: str  # label: baseline, known-bad, outlier, changed, running ≠ persisted
    severity: str = "warning"
    finding: str | None = None
    detail: str | None = None
    fix: str | None = None
    waived: str | None = None  # "until 2026-01-31 by alice: OPS-1"
    button: Button | None = None  # Waive


@dataclass
class DriftGroup:
    """Drifts under one title (a host, "Waived"); renderers keep each line whole and may split the group."""

    title: str | None
    drifts: list[DriftLine]
    details: bool = True  # detail, fix and waiver lines under each drift
    more: str | None = None  # "…and 7 more in the thread"


Block = Union[Verdict, Notice, Paragraph, Heading, FindingBlock, Matrix, Context, Buttons, Items, Divider, DriftGroup]


@dataclass
class Message:
    head: list[Block] = field(default_factory=list)
    findings: list[FindingBlock] = field(default_factory=list)
    tail: list[Block] = field(default_factory=list)
    fallback: str = ""  # raw one-line summary; renderers escape it
    ephemeral: bool = False

    @property
    def blocks(self) -> list[Block]:
        return [*self.head, *self.findings, *self.tail]
