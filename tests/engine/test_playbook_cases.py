"""Every inline case of every built-in playbook, one pytest test each (promtool-style)."""

from __future__ import annotations

import pytest

from bot.engine import load_rules
from bot.engine.cases import check_case, iter_cases

RULES = load_rules([])
CASES = list(iter_cases(RULES))


def test_every_builtin_playbook_loads():
    assert not RULES.errors, "\n".join(str(e) for e in RULES.errors)
    assert not RULES.warnings


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}::{c.name}" for r, c in CASES])
def test_case(rule, case):
    result = check_case(rule, case)
    assert result.passed, "\n".join(result.failures)


@pytest.mark.parametrize("rule", list(RULES), ids=[r.id for r in RULES])
def test_rule_has_positive_and_near_miss_case(rule):
    kinds = {c.expect.fires for c in rule.spec.cases}
    assert kinds == {True, False}, f"{rule.id} needs a case that fires and a near miss that does not"
