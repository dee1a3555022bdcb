"""The diagnosis engine: playbooks (rules as data) over evidence -> ranked findings.

rules = load_rules(config.playbook_paths, base_dir=config.base_dir())
diagnosis = diagnose(evidence, rules)          # bot.findings.Diagnosis
results = run_cases(rules)                     # every rule's inline test cases
"""

from bot.engine.cases import CaseResult, build_evidence, run_cases
from bot.engine.context import build_context
from bot.engine.loader import load_rules, load_rules_for_config
from bot.engine.model import LoadError, Rule, RuleSet
from bot.engine.runner import DiagnosisDetail, diagnose, diagnose_detail

__all__ = [
    "CaseResult",
    "DiagnosisDetail",
    "LoadError",
    "Rule",
    "RuleSet",
    "build_context",
    "build_evidence",
    "diagnose",
    "diagnose_detail",
    "load_rules",
    "load_rules_for_config",
    "run_cases",
]
