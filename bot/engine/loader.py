"""Load playbooks: the built-in ones shipped in the ``playbooks`` package, then user
directories from the configuration (``playbook_paths``).

A broken file (bad YAML, unknown key, bad jinja, unknown variable) becomes a
``LoadError`` naming the file and line; every other rule still loads. A user rule
whose id matches a built-in one replaces it, with a warning.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import AbstractSet, Any, Iterable

import yaml
from jinja2 import TemplateSyntaxError, meta
from pydantic import ValidationError

from bot.engine.context import build_context
from bot.engine.jinja import environment
from bot.engine.model import SEVERITIES, LoadError, Rule, RuleSet, RuleSpec
from probes.evidence import Evidence

log = logging.getLogger(__name__)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TEMPLATE_FIELDS = ("verdict", "explain")
_FIX_FIELDS = ("runtime", "persistent", "rollback", "app")


class RuleLoadError(Exception):
    def __init__(self, error: LoadError):
        self.error = error
        super().__init__(str(error))


@lru_cache(maxsize=1)
def known_names() -> frozenset[str]:
    env = environment()
    return frozenset(build_context(Evidence()).keys()) | frozenset(env.globals.keys())


# ---- YAML positions ----------------------------------------------------------------
def _child(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    return None


def _key_node(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == key:
                return k
    return None


def node_line(root: yaml.Node | None, path: Iterable[Any], key_itself: bool = False) -> int | None:
    """1-based line of the value at *path* (or of the last key, with *key_itself*)."""
    if root is None:
        return None
    node, best = root, root.start_mark.line + 1
    path = list(path)
    for i, p in enumerate(path):
        if key_itself and i == len(path) - 1:
            k = _key_node(node, p)
            return k.start_mark.line + 1 if k is not None else best
        nxt = _child(node, p)
        if nxt is None:
            k = _key_node(node, p)
            return k.start_mark.line + 1 if k is not None else best
        node = nxt
        best = node.start_mark.line + 1
    return best


def _content_line(root: yaml.Node | None, path: list[Any]) -> int | None:
    """Line where a scalar's text starts (block scalars begin on the line after ``|``)."""
    line = node_line(root, path)
    node = root
    for p in path:
        node = _child(node, p) if node is not None else None
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") and line:
        return line + 1
    return line


# ---- compile -----------------------------------------------------------------------
def _compile_rule(spec: RuleSpec, path: str, root: yaml.Node | None, builtin: bool) -> Rule:
    env = environment()
    known = known_names() | set(spec.vars)
    compiled: dict[str, Any] = {}

    def fail(where: list[Any], msg: str, rel_line: int | None = None) -> RuleLoadError:
        base = _content_line(root, where)
        line = base + (rel_line - 1) if base and rel_line else base
        return RuleLoadError(LoadError(path, line, f"{'.'.join(str(w) for w in where)}: {msg}"))

    def check_names(source: str, where: list[Any], allowed: AbstractSet[str]):
        try:
            ast = env.parse(
                source
                if not where or where[0] not in ("when", "vars", "score", "confidence", "severity")
                else "{{ " + source + " }}"
            )
        except TemplateSyntaxError as e:
            raise fail(where, f"jinja syntax error: {e.message}", e.lineno) from None
        unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
        if unknown:
            raise fail(where, f"unknown name(s) {', '.join(unknown)} (not in the rule context or vars)")
        return ast

    def expr(source: str, where: list[Any], allowed: AbstractSet[str]):
        check_names(source, where, allowed)
        try:
            return env.compile_expression(source, undefined_to_none=False)
        except TemplateSyntaxError as e:
            raise fail(where, f"jinja syntax error: {e.message}", e.lineno) from None

    def tmpl(source: str, where: list[Any]):
        ast = check_names(source, where, known)
        try:
            return env.template_class.from_code(env, env.compile(ast), env.make_globals(None), None)
        except TemplateSyntaxError as e:
            raise fail(where, f"jinja syntax error: {e.message}", e.lineno) from None

    seen = set(known_names())
    compiled["vars"] = []
    for name, source in spec.vars.items():
        compiled["vars"].append((name, expr(source, ["vars", name], seen)))
        seen = seen | {name}
    compiled["when"] = expr(spec.when, ["when"], known)
    for f in ("score", "confidence"):
        val = getattr(spec, f)
        compiled[f] = expr(val, [f], known) if isinstance(val, str) else val
    compiled["severity"] = None if spec.severity in SEVERITIES else expr(spec.severity, ["severity"], known)
    compiled["evidence"] = [tmpl(t, ["evidence", i]) for i, t in enumerate(spec.evidence)]
    for f in _TEMPLATE_FIELDS:
        val = getattr(spec, f)
        compiled[f] = tmpl(val, [f]) if val else None
    compiled["fix"] = {}
    for f in _FIX_FIELDS:
        val = getattr(spec.fix, f)
        compiled["fix"][f] = tmpl(val, ["fix", f]) if val else None
    return Rule(
        spec=spec, path=path, builtin=builtin, compiled=compiled, lines={"when": node_line(root, ["when"]) or 0}
    )


def parse_rule_text(text: str, path: str, builtin: bool = False, stem: str | None = None) -> Rule:
    """Parse, validate and compile one playbook file; raise RuleLoadError naming the line.

    Compiled rules are cached by content, so reloading unchanged playbooks is cheap."""
    return _parse_cached(text, path, builtin, stem)


@lru_cache(maxsize=1024)
def _parse_cached(text: str, path: str, builtin: bool, stem: str | None) -> Rule:
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise RuleLoadError(LoadError(path, mark.line + 1 if mark else None, f"not valid YAML: {problem}")) from None
    if not isinstance(data, dict):
        raise RuleLoadError(LoadError(path, 1, "a playbook must be a YAML mapping (one rule per file)"))
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
            line = node_line(root, loc, key_itself=True)
        elif err["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
            line = node_line(root, loc[:-1])
        else:
            line = node_line(root, loc)
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        where = ".".join(str(p) for p in loc)
        raise RuleLoadError(LoadError(path, line, f"{where}: {msg}{more}")) from None
    if stem is not None and spec.id != stem:
        raise RuleLoadError(
            LoadError(path, node_line(root, ["id"]), f"id {spec.id!r} must match the file name ({stem!r})")
        )
    return _compile_rule(spec, path, root, builtin)


def builtin_files() -> list[tuple[str, str, str]]:
    """(display path, stem, text) of every playbook shipped in the ``playbooks`` package."""
    out = []
    root = resources.files("playbooks")
    for entry in sorted(root.iterdir(), key=lambda t: t.name):
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")):
            out.append((str(entry), entry.name.rsplit(".", 1)[0], entry.read_text(encoding="utf-8")))
    return out


def _user_files(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.is_file() and x.suffix in (".yaml", ".yml"))
    return []


def load_rules(
    config_paths: Iterable[str | Path] | None = None, *, builtin: bool = True, base_dir: str | Path | None = None
) -> RuleSet:
    """Built-in playbooks plus user playbook files/directories, in that order."""
    rs = RuleSet()
    by_id: dict[str, int] = {}

    def add(rule: Rule) -> None:
        if rule.id in by_id:
            old = rs.rules[by_id[rule.id]]
            if not rule.builtin:
                msg = f"{rule.path}: rule {rule.id!r} overrides {old.path}"
                rs.warnings.append(msg)
                log.warning(msg)
                rs.rules[by_id[rule.id]] = rule
                return
            rs.errors.append(LoadError(rule.path, None, f"duplicate rule id {rule.id!r} (also in {old.path})"))
            return
        by_id[rule.id] = len(rs.rules)
        rs.rules.append(rule)

    if builtin:
        for path, stem, text in builtin_files():
            try:
                add(parse_rule_text(text, path, builtin=True, stem=stem))
            except RuleLoadError as e:
                rs.errors.append(e.error)
    base = Path(base_dir) if base_dir else Path.cwd()
    for raw in config_paths or []:
        p = Path(raw).expanduser()
        if not p.is_absolute():
            p = base / p
        if not p.exists():
            rs.errors.append(LoadError(str(p), None, "playbook path does not exist"))
            continue
        for f in _user_files(p):
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                rs.errors.append(LoadError(str(f), None, f"cannot read: {e}"))
                continue
            try:
                add(parse_rule_text(text, str(f), builtin=False, stem=f.stem))
            except RuleLoadError as e:
                rs.errors.append(e.error)
    for err in rs.errors:
        log.warning("playbook not loaded: %s", err)
    return rs


def load_rules_for_config(config) -> RuleSet:
    """Convenience for front ends: built-ins plus ``config.playbook_paths``."""
    return load_rules(config.playbook_paths, base_dir=config.base_dir())
