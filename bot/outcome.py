"""What a command produced, before any front end renders it.

Data flows one way: request -> probes -> evidence -> rules -> findings ->
``Outcome`` -> render (Block Kit, console text, JSON) -> reply/store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.findings import Diagnosis
from probes.evidence import Evidence, Request

OutcomeKind = Literal[
    "diagnosis", "help", "incidents", "incident", "history", "ack", "resolve", "drift", "refused", "error", "text"
]


class IncidentInfo(BaseModel):
    id: int | None = None
    status: str | None = None
    joined: bool = False
    askers: int = 1
    askers_text: str | None = None  # "3 people asked about db01:5432 in the last 10 minutes"
    storage_error: str | None = None  # "incident not stored: database unavailable (retrying)"


class Progress(BaseModel):
    """A progress event while a diagnosis runs ("office: 3/10 connected...")."""

    stage: str  # "planned", "counters_t0", "connect", "counters_t1", "rules", "done"
    message: str
    vantage: str | None = None
    done: int | None = None
    total: int | None = None


class Outcome(BaseModel):
    kind: OutcomeKind
    request: Request | None = None
    evidence: Evidence | None = None
    diagnosis: Diagnosis | None = None
    incident: IncidentInfo | None = None
    text: str | None = None  # for help / refusals / errors / simple acks
    data: dict[str, Any] = Field(default_factory=dict)  # incidents list, drift report, history...
    ephemeral: bool = False  # Slack: only the asker should see it (refusals)
