"""The paste corpus (tests/fixtures/pastes): run every real paste through read_paste + the rules.

``python -m tests.pastes.corpus`` prints the score and every miss; the test suite asserts it is perfect.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.engine import diagnose, load_rules
from bot.paste import read_paste
from probes.errors import BadInput

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pastes"


@dataclass
class PasteResult:
    file: str
    ids: list[str] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def entries() -> list[dict]:
    return yaml.safe_load((CORPUS / "corpus.yaml").read_text())


def check(entry: dict, rules) -> PasteResult:
    """One corpus entry: expected ids present, forbidden ids absent, no critical finding on a healthy paste."""
    res = PasteResult(entry["file"])
    text = (CORPUS / entry["file"]).read_text()
    try:
        evidence, _notes = read_paste(text, host=Path(entry["file"]).stem)
    except BadInput as e:
        res.problems.append(f"refused: {e}")
        return res
    diagnosis = diagnose(evidence, rules)
    res.ids = [f.id for f in diagnosis.findings]
    res.critical = [f.id for f in diagnosis.findings if f.severity == "critical"]
    res.problems += [f"missing {i}" for i in entry.get("expect") or [] if i not in res.ids]
    res.problems += [f"forbidden {i} found" for i in entry.get("forbid") or [] if i in res.ids]
    if entry.get("healthy") and res.critical:
        res.problems.append(f"healthy paste got critical {res.critical}")
    return res


def run() -> list[PasteResult]:
    rules = load_rules()
    return [check(e, rules) for e in entries()]


def main() -> int:
    results = run()
    good = sum(r.ok for r in results)
    for r in results:
        mark = "ok  " if r.ok else "MISS"
        print(
            f"{mark} {r.file}: {', '.join(r.ids) or '(no findings)'}"
            + ("" if r.ok else f"  <- {'; '.join(r.problems)}")
        )
    print(f"corpus score: {good}/{len(results)} pastes diagnosed as expected")
    return 0 if good == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
