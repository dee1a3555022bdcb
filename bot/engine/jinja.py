"""The project's jinja2 sandboxes, in one place: rule templates and drift baseline expressions."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.engine.values import fmt_value
from probes.hostport import format_hostport


def _signed(n: Any) -> str:
    try:
        return f"{int(n):+d}"
    except (TypeError, ValueError):
        return str(n)


def _join_and(items: Any, sep: str = ", ") -> str:
    items = [str(i) for i in (items or [])]
    if len(items) <= 1:
        return "".join(items)
    return sep.join(items[:-1]) + " and " + items[-1]


def _human(n: Any) -> str:
    try:
        n = float(n)
    except (TypeError, ValueError):
        return str(n)
    for unit in ("", "Ki", "Mi", "Gi"):
        if abs(n) < 1024 or unit == "Gi":
            return f"{n:.0f} {unit}B".replace(" B", " B") if unit else f"{n:.0f} B"
        n /= 1024
    return str(n)


def _kver(t: Any) -> str:
    return ".".join(str(x) for x in t) if t else "unknown"


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters.update(
        {
            "fmt": fmt_value,
            "signed": _signed,
            "join_and": _join_and,
            "human": _human,
            "kver": _kver,
            "hostport": format_hostport,
        }
    )
    return env


@lru_cache(maxsize=1)
def expression_environment() -> ImmutableSandboxedEnvironment:
    """For drift baseline expressions (``value >= 4096``, ``mem_gb * 1024``): data and arithmetic only."""
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()  # no range(), lipsum(), dict(), cycler... : data and arithmetic only
    env.globals.update({"min": min, "max": max, "abs": abs, "int": int, "round": round})
    env.filters = {k: env.filters[k] for k in ("int", "float", "round", "abs", "length", "min", "max", "first", "last")}
    env.tests = {k: env.tests[k] for k in ("defined", "none", "number", "string", "sequence")}
    return env
