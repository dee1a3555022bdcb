"""The ``baseline`` lens: per-group policy from the config (``baselines:``): exact values, comparisons and
expressions of the host's memory/CPUs (``">= mem_gb * 128"``), evaluated in the restricted jinja2 sandbox of
``bot.engine.jinja`` (``expression_environment``; never ``eval``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Sequence

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from bot.drift.model import Drift, SysctlValue, normalize, same
from bot.engine.jinja import expression_environment
from bot.engine.values import fmt_value as fmt  # a value as sysctl files spell it
from bot.engine.values import kernel_tuple

_LEAD_OP = re.compile(r"^\s*(==|!=|>=|<=|>|<|not\s+in\b|in\b)")
_MAX_EXPR = 200


class BaselineError(ValueError):
    """A baseline expression that cannot be parsed or evaluated."""


@lru_cache(maxsize=1024)
def _compile(expr: str):
    if len(expr) > _MAX_EXPR:
        raise BaselineError(f"expression longer than {_MAX_EXPR} characters")
    if "{" in expr or "}" in expr or "__" in expr:
        raise BaselineError("expression may not contain '{', '}' or '__'")
    try:
        return expression_environment().compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as e:
        raise BaselineError(f"cannot parse: {e.message}") from None


@dataclass(frozen=True)
class Expectation:
    """A parsed baseline: ``exact`` (a value to equal) or ``expr`` (a condition over ``value``)."""

    source: Any  # as written in the config
    exact: SysctlValue = None
    expr: str | None = None  # jinja2 expression over value, mem_gb, cpus...
    rhs: str | None = None  # the right-hand side, for "expected" text (">= mem_gb * 128")
    op: str | None = None

    @property
    def text(self) -> str:
        if self.expr is None:
            return f"== {fmt(self.exact)}"
        return str(self.source).strip()


def parse_expectation(spec: Any) -> Expectation:
    """``0`` / ``"4096 65535"`` / ``[4096, 87380]`` (exact), ``">= 4096"``, ``"== 0"``, ``"in [0, 1]"``,
    ``">= mem_gb * 128"``, or a full condition naming ``value`` (``"value >= 1024 and value <= 65535"``)."""
    if spec is None:
        raise BaselineError("empty baseline")
    if isinstance(spec, (bool, int, float, list, tuple)):
        return Expectation(source=spec, exact=normalize(spec))
    s = str(spec).strip()
    if not s:
        raise BaselineError("empty baseline")
    m = _LEAD_OP.match(s)
    if m:
        op = " ".join(m.group(1).split())
        rhs = s[m.end() :].strip()
        if not rhs:
            raise BaselineError(f"{s!r}: nothing after {op!r}")
        if op in ("==", "!=") and not re.search(r"[A-Za-z_(\[]", rhs):
            # "== 4096 65535": a literal (vectors written like sysctl files)
            exp = Expectation(source=spec, exact=normalize(rhs), expr=None, rhs=rhs, op=op)
            if op == "!=":
                expr = "not (value == " + _literal(normalize(rhs)) + ")"
                _compile(expr)
                return Expectation(source=spec, exact=None, expr=expr, rhs=rhs, op=op)
            return exp
        expr = f"value {op} ({rhs})"
        _compile(expr)
        return Expectation(source=spec, expr=expr, rhs=rhs, op=op)
    if re.search(r"\bvalue\b", s):
        _compile(s)
        return Expectation(source=spec, expr=s)
    # a bare literal: exact value ("1", "4096 87380 6291456", "bbr")
    return Expectation(source=spec, exact=normalize(s))


def _literal(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(str(int(x)) for x in v) + "]"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def host_vars(facts: Any = None, sysctls: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Names baseline expressions may use: mem_gb, mem_mb, mem_kb, cpus, kernel (tuple), kernel_release."""
    mem_kb = getattr(facts, "mem_total_kb", None) if facts is not None else None
    cpus = getattr(facts, "cpus", None) if facts is not None else None
    release = getattr(facts, "kernel_release", None) if facts is not None else None
    if release is None and sysctls and isinstance(sysctls.get("kernel.osrelease"), str):
        release = sysctls["kernel.osrelease"]
    return {
        "mem_kb": mem_kb,
        "mem_mb": (mem_kb / 1024) if mem_kb else None,
        "mem_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "cpus": cpus,
        "kernel": kernel_tuple(release),
        "kernel_release": release,
    }


@dataclass
class Judgement:
    ok: bool | None  # None: could not be judged (missing facts, bad expression)
    expected: str
    error: str | None = None


def _num_text(v: Any) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.1f}"
    return fmt(v)


def judge(exp: Expectation, value: Any, hvars: Mapping[str, Any]) -> Judgement:
    """Does *value* meet *exp* on a host with *hvars*? ``expected`` spells out computed sides."""
    if exp.expr is None:
        return Judgement(ok=same(value, exp.exact), expected=exp.text)
    expected = exp.text
    names = {k: v for k, v in hvars.items() if v is not None}
    if exp.rhs is not None and re.search(r"[A-Za-z_]", exp.rhs):
        try:
            rhs_val = _compile(exp.rhs)(**names)
            if isinstance(rhs_val, (int, float, list, tuple)):
                rv = [_num_text(x) for x in rhs_val] if isinstance(rhs_val, (list, tuple)) else _num_text(rhs_val)
                expected = f"{exp.op} {rv if isinstance(rv, str) else '[' + ', '.join(rv) + ']'} ({exp.rhs})"
        except (UndefinedError, TypeError, ValueError, SecurityError, ArithmeticError, BaselineError):
            pass
    v = normalize(value)
    try:
        result = _compile(exp.expr)(value=v, **{k: x for k, x in names.items() if k != "value"})
    except UndefinedError as e:
        return Judgement(ok=None, expected=expected, error=f"cannot evaluate {exp.text!r}: {e.message}")
    except (TypeError, ValueError, ArithmeticError) as e:
        return Judgement(ok=None, expected=expected, error=f"cannot evaluate {exp.text!r} for value {fmt(value)}: {e}")
    except SecurityError as e:
        return Judgement(ok=None, expected=expected, error=f"refused {exp.text!r}: {e}")
    if not isinstance(result, bool):
        return Judgement(ok=None, expected=expected, error=f"{exp.text!r} is not a condition (gave {result!r})")
    return Judgement(ok=result, expected=expected)


def group_baselines(baselines: Mapping[str, Mapping[str, Any]], groups: Sequence[str]) -> dict[str, tuple[Any, str]]:
    """key -> (spec, group) for a host in *groups*; ``all`` (or ``*``) applies to every host and
    is overridden by a specific group; among specific groups the first listed wins."""
    out: dict[str, tuple[Any, str]] = {}
    for g in ("all", "*"):
        for key, spec in (baselines.get(g) or {}).items():
            out[key] = (spec, g)
    for g in reversed(list(groups)):
        for key, spec in (baselines.get(g) or {}).items():
            out[key] = (spec, g)
    return out


def baseline_keys(baselines: Mapping[str, Mapping[str, Any]], groups: Sequence[str]) -> list[str]:
    return sorted(group_baselines(baselines, groups))


def lens_baseline(
    host: str,
    groups: Sequence[str],
    sysctls: Mapping[str, Any],
    hvars: Mapping[str, Any],
    baselines: Mapping[str, Mapping[str, Any]],
) -> tuple[list[Drift], list[dict]]:
    """Baseline violations of one host, and the baselines it could not judge (as errors)."""
    drifts: list[Drift] = []
    problems: list[dict] = []
    for key, (spec, group) in sorted(group_baselines(baselines, groups).items()):
        try:
            exp = parse_expectation(spec)
        except BaselineError as e:
            problems.append(
                {
                    "host": host,
                    "probe": "baseline",
                    "key": key,
                    "error": f"baselines.{group}.{key}: {e}",
                    "kind": "config",
                }
            )
            continue
        value = sysctls.get(key)
        if value is None:
            # absent key: meets "== absent"-like policies only if they say so; report as drift
            drifts.append(
                Drift(
                    host,
                    key,
                    None,
                    exp.text,
                    "baseline",
                    detail=f"baseline of group {group}; the key does not exist or could not be read on this host",
                )
            )
            continue
        j = judge(exp, value, hvars)
        if j.ok is None:
            problems.append(
                {
                    "host": host,
                    "probe": "baseline",
                    "key": key,
                    "error": f"baselines.{group}.{key}: {j.error}",
                    "kind": "baseline",
                }
            )
        elif not j.ok:
            fix = None
            if exp.expr is None:
                fix = f"sysctl -w {key}='{fmt(exp.exact)}'"
            drifts.append(Drift(host, key, value, j.expected, "baseline", detail=f"baseline of group {group}", fix=fix))
    return drifts, problems
