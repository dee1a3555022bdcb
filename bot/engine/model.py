"""The playbook file format, validated with pydantic (unknown keys are errors)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.engine.context import EVIDENCE_NAMES

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SEVERITIES = ("critical", "warning", "info")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixSpec(_Strict):
    runtime: str | None = None
    persistent: str | None = None
    rollback: str | None = None
    app: str | None = None


class Expect(_Strict):
    fires: bool
    evidence_contains: list[str] = Field(default_factory=list)
    fix_contains: list[str] = Field(default_factory=list)
    explain_contains: list[str] = Field(default_factory=list)
    verdict_contains: list[str] = Field(default_factory=list)
    skipped: bool | None = None  # expect "could not be evaluated"
    confidence_max: float | None = None
    confidence_min: float | None = None


class Case(_Strict):
    name: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    expect: Expect


class RuleSpec(_Strict):
    id: str
    title: str
    # critical | warning | info, or an expression giving one ("critical if has_delta else warning")
    severity: str
    confidence: float | str = 0.8  # a number or an expression
    version: int | str = 1
    checks: str | None = None  # short noun for the verdict's "checked: ..." list
    requires: list[str] = Field(default_factory=list)  # "a|b" means either
    vars: dict[str, str] = Field(default_factory=dict)
    when: str
    verdict: str | None = None  # template: "drops SYNs from NAT'd clients: tcp_tw_recycle=1"
    evidence: list[str] = Field(default_factory=list)
    explain: str
    fix: FixSpec = Field(default_factory=FixSpec)
    references: list[str] = Field(default_factory=list)
    score: str | float = 0
    cases: list[Case] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"{v!r} is not a rule id (lower-case letters, digits and '-')")
        return v

    @field_validator("vars", mode="before")
    @classmethod
    def _vars(cls, v: Any) -> Any:
        """Plain numbers and booleans are expressions too (``want: 300``)."""
        if isinstance(v, dict):
            return {
                k: (("true" if x else "false") if isinstance(x, bool) else str(x) if isinstance(x, (int, float)) else x)
                for k, x in v.items()
            }
        return v

    @field_validator("requires")
    @classmethod
    def _requires(cls, v: list[str]) -> list[str]:
        for item in v:
            for alt in item.split("|"):
                if alt.strip() not in EVIDENCE_NAMES:
                    raise ValueError(f"unknown evidence {alt!r} (one of: {', '.join(EVIDENCE_NAMES)})")
        return v

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: str) -> str:
        if v not in SEVERITIES and not any(s in v for s in SEVERITIES):
            raise ValueError(f"{v!r}: severity is critical, warning, info or an expression giving one")
        return v

    @field_validator("confidence")
    @classmethod
    def _conf(cls, v: float | str) -> float | str:
        if isinstance(v, (int, float)) and not 0 <= v <= 1:
            raise ValueError("confidence must be between 0 and 1")
        return v


@dataclass
class Rule:
    """A validated rule with its compiled expressions and templates."""

    spec: RuleSpec
    path: str
    builtin: bool
    compiled: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # field path -> line in the file

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def severity(self) -> str:
        """The nominal severity: the literal, or the first one an expression names (its worst case)."""
        sev = self.spec.severity
        return sev if sev in SEVERITIES else next(s for s in SEVERITIES if s in sev)

    @property
    def title(self) -> str:
        return self.spec.title


@dataclass
class LoadError:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        at = f":{self.line}" if self.line else ""
        return f"{self.path}{at}: {self.message}"


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def sysctl_keys(self) -> list[str]:
        """Sysctl names the rules mention (``net.*``, ``vm.*``, ``fs.*``, ``kernel.*``), so probes
        read exactly those (plus the defaults) and a user rule's new key is collected too."""
        keys: set[str] = set()
        for r in self.rules:
            try:
                text = Path(r.path).read_text()
            except OSError:
                continue
            keys.update(m.rstrip(".") for m in re.findall(r"\b(?:net|vm|fs|kernel)\.[a-z0-9_]+(?:\.[a-z0-9_]+)+", text))
        return sorted(k for k in keys if not k.endswith(".conf") and not k.startswith("net.ipv4.conf.eth"))
