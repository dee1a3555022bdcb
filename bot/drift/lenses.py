"""The drift lenses: pure functions over collected values (no I/O).

* ``baseline``  — per-group policy from the config (``baselines:``): exact values,
  comparisons and expressions of the host's memory/CPUs (``">= mem_gb * 128"``),
  evaluated in a sandboxed jinja2 expression environment (never ``eval``);
* ``known-bad`` — every playbook rule that can judge a host from sysctls and facts alone;
* ``outlier``   — a value that differs from the majority of the host's group peers
  (only when at least ``MIN_PEERS`` hosts of the group report the key);
* ``changed``   — against the host's previous stored snapshot;
* ``persisted`` — the running value differs from what the sysctl files apply at next boot.

Every lens returns a list of :class:`Drift`.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from bot.engine.context import fmt_value as fmt  # a value as sysctl files spell it
from bot.engine.jinja import expression_environment
from bot.engine.runner import diagnose
from bot.findings import SEVERITY_RANK as FINDING_SEVERITY_RANK
from probes.evidence import Evidence, HostEvidence

KINDS = ("baseline", "known-bad", "outlier", "changed", "persisted")
SEVERITY_RANK = FINDING_SEVERITY_RANK  # the engine's ranking, re-exported for drift
MIN_PEERS = 3

#: Keys the kernel sizes from the machine (RAM, CPUs) by default: peers differ on them
#: whenever their hardware differs, so the outlier lens compares them only among peers
#: of the same size (memory rounded to the GB and CPU count).
AUTO_SIZED_KEYS = frozenset({
    "net.ipv4.tcp_mem", "net.ipv4.udp_mem", "fs.file-max", "fs.nr_open", "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_max_tw_buckets", "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_buckets",
    "net.nf_conntrack_max", "net.ipv4.ipfrag_high_thresh", "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.route.max_size", "kernel.threads-max", "kernel.pid_max",
})
#: Never compared: they are counts or identities, not settings.
VOLATILE_KEYS = frozenset({
    "net.netfilter.nf_conntrack_count", "kernel.random.boot_id", "kernel.hostname", "kernel.ns_last_pid",
    "fs.file-nr", "fs.inode-nr", "fs.inode-state", "fs.dentry-state", "kernel.random.entropy_avail",
    "kernel.random.uuid",
})

SysctlValue = Any  # int | list[int] | str | None


@dataclass
class Drift:
    """One drift: a host's key whose value misses an expectation under one lens."""

    host: str
    key: str
    value: SysctlValue
    expected: str
    kind: str  # one of KINDS
    finding: str | None = None
    severity: str = "warning"
    fix: str | None = None  # runtime fix (from the rule, or a computed sysctl -w)
    detail: str | None = None  # where the expectation comes from (group, file, date...)
    waived: dict[str, Any] | None = None

    def contract(self) -> dict[str, Any]:
        """The ``drifts[]`` entry of ``drift --json`` (docs/architecture.md §Front ends and contracts; a few additive keys)."""
        out: dict[str, Any] = {"host": self.host, "key": self.key, "value": self.value, "expected": self.expected,
                               "kind": self.kind, "finding": self.finding, "severity": self.severity,
                               "fix": self.fix, "detail": self.detail}
        if self.waived is not None:
            out["waived"] = dict(self.waived)
        return out

    @property
    def sort_key(self) -> tuple:
        return (SEVERITY_RANK.get(self.severity, 3), KINDS.index(self.kind) if self.kind in KINDS else 9,
                self.host, self.key)


# ----------------------------------------------------------------------------- values


def normalize(v: Any) -> SysctlValue:
    """Canonical form for comparing values: ints, int vectors, or whitespace-collapsed strings."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    if isinstance(v, (list, tuple)):
        items = [normalize(x) for x in v]
        return items[0] if len(items) == 1 else items
    s = str(v).strip()
    tokens = s.split()
    if tokens and all(re.fullmatch(r"-?\d+", t) for t in tokens):
        return int(tokens[0]) if len(tokens) == 1 else [int(t) for t in tokens]
    return " ".join(tokens)


def same(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)


# ----------------------------------------------------------------------------- baseline expressions

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
        rhs = s[m.end():].strip()
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
    kernel = None
    if release:
        m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", release)
        if m:
            kernel = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    return {
        "mem_kb": mem_kb,
        "mem_mb": (mem_kb / 1024) if mem_kb else None,
        "mem_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "cpus": cpus,
        "kernel": kernel,
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
        return Judgement(ok=None, expected=expected,
                         error=f"cannot evaluate {exp.text!r} for value {fmt(value)}: {e}")
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


def lens_baseline(host: str, groups: Sequence[str], sysctls: Mapping[str, Any], hvars: Mapping[str, Any],
                  baselines: Mapping[str, Mapping[str, Any]]) -> tuple[list[Drift], list[dict]]:
    """Baseline violations of one host, and the baselines it could not judge (as errors)."""
    drifts: list[Drift] = []
    problems: list[dict] = []
    for key, (spec, group) in sorted(group_baselines(baselines, groups).items()):
        try:
            exp = parse_expectation(spec)
        except BaselineError as e:
            problems.append({"host": host, "probe": "baseline", "key": key,
                             "error": f"baselines.{group}.{key}: {e}", "kind": "config"})
            continue
        value = sysctls.get(key)
        if value is None:
            # absent key: meets "== absent"-like policies only if they say so; report as drift
            drifts.append(Drift(host, key, None, exp.text, "baseline", detail=f"baseline of group {group}; "
                                "the key does not exist or could not be read on this host"))
            continue
        j = judge(exp, value, hvars)
        if j.ok is None:
            problems.append({"host": host, "probe": "baseline", "key": key,
                             "error": f"baselines.{group}.{key}: {j.error}", "kind": "baseline"})
        elif not j.ok:
            fix = None
            if exp.expr is None:
                fix = f"sysctl -w {key}='{fmt(exp.exact)}'"
            drifts.append(Drift(host, key, value, j.expected, "baseline", detail=f"baseline of group {group}",
                                fix=fix))
    return drifts, problems


# ----------------------------------------------------------------------------- known-bad

_FIX_ASSIGN = re.compile(r"sysctl\s+(?:-q\s+)?-w\s+([A-Za-z0-9_.\-/]+)=(?:'([^']*)'|\"([^\"]*)\"|(\S+))")
_KEY_IN_TEXT = re.compile(r"\b((?:net|vm|fs|kernel)\.[A-Za-z0-9_.\-/]+[A-Za-z0-9_])")

#: When a rule's fix names no ``sysctl -w``, the keys its finding is about.
FINDING_KEYS: dict[str, tuple[str, ...]] = {
    "tcp-tw-recycle": ("net.ipv4.tcp_tw_recycle",),
    "backlog-undersized": ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog"),
    "conntrack-table-full": ("net.netfilter.nf_conntrack_max",),
    "tw-bucket-overflow": ("net.ipv4.tcp_max_tw_buckets",),
    "ephemeral-ports-exhausted": ("net.ipv4.ip_local_port_range",),
    "rcv-buffer-pressure": ("net.ipv4.tcp_rmem", "net.core.rmem_max"),
    "syn-queue-overflow": ("net.ipv4.tcp_max_syn_backlog",),
}


def fix_assignments(runtime: str | None) -> dict[str, str]:
    """``sysctl -w k=v`` assignments in a rule's runtime fix: key -> value text."""
    out: dict[str, str] = {}
    for m in _FIX_ASSIGN.finditer(runtime or ""):
        out[m.group(1)] = next(g for g in m.groups()[1:] if g is not None)
    return out


def known_bad_evidence(host: str, sysctls: Mapping[str, Any] | None, facts: Any,
                       persisted: Mapping[str, Any] | None = None, address: str | None = None):
    """An Evidence with only the target's sysctls and facts: the known-bad lens's input."""
    tgt = HostEvidence(host=host, address=address, sysctls=dict(sysctls) if sysctls is not None else None,
                       facts=facts, persisted_sysctls=dict(persisted) if persisted is not None else None)
    return Evidence(source="live", target=tgt)


def findings_to_drifts(host: str, findings: Iterable[Any], sysctls: Mapping[str, Any]) -> list[Drift]:
    """One drift per sysctl a fired finding is about (the keys its fix changes, else the keys it cites)."""
    out: list[Drift] = []
    for f in findings:
        runtime = getattr(f.fix, "runtime", None) if getattr(f, "fix", None) else None
        assigns = fix_assignments(runtime)
        keys: list[tuple[str, str | None]] = []
        for k, value in assigns.items():
            if k in sysctls and same(sysctls[k], value):
                continue  # the fix leaves this one as it is
            keys.append((k, value))
        if not keys:
            named = [k for k in FINDING_KEYS.get(f.id, ()) if k in sysctls]
            if not named:
                cited = " ".join(getattr(f, "evidence", []) or [])
                named = [k for k in dict.fromkeys(_KEY_IN_TEXT.findall(cited)) if k in sysctls]
            keys = [(k, None) for k in named] or [("-", None)]
        for k, want in keys:
            expected = f"{want} ({f.title})" if want is not None else f"see [{f.id}]: {f.title}"
            out.append(Drift(host, k, sysctls.get(k), expected, "known-bad", finding=f.id,
                             severity=getattr(f, "severity", "warning"), fix=runtime,
                             detail=(getattr(f, "explanation", "") or "").strip().split("\n")[0][:300] or None))
    return out


def lens_known_bad(host: str, sysctls: Mapping[str, Any] | None, facts: Any, rules: Any,
                   persisted: Mapping[str, Any] | None = None) -> list[Drift]:
    """Run every rule over an Evidence of sysctls + facts only; each fired finding becomes drifts."""
    if not sysctls or rules is None:
        return []
    ev = known_bad_evidence(host, sysctls, facts, persisted)
    diag = diagnose(ev, rules)
    return findings_to_drifts(host, diag.findings, sysctls)


# ----------------------------------------------------------------------------- outlier


def _key_str(v: Any) -> str:
    return repr(normalize(v))


def lens_outlier(values: Mapping[str, Mapping[str, Any]], groups: Mapping[str, Sequence[str]],
                 sizes: Mapping[str, Any] | None = None, *, min_peers: int = MIN_PEERS) -> list[Drift]:
    """Hosts whose value of a key differs from the strict majority of their group.

    *values*: host -> sysctls; *groups*: group -> hosts; *sizes*: host -> (mem GB, cpus) for
    :data:`AUTO_SIZED_KEYS`. A group counts only when at least *min_peers* of its hosts report
    the key, and a majority exists (more than half agree). One drift per (host, key), from the
    first group that flags it.
    """
    out: dict[tuple[str, str], Drift] = {}
    for group, members in sorted(groups.items()):
        hosts = [h for h in members if h in values]
        if len(hosts) < min_peers:
            continue
        keys = sorted({k for h in hosts for k in values[h]} - VOLATILE_KEYS)
        for key in keys:
            buckets: dict[Any, list[str]] = {}
            for h in hosts:
                if key not in values[h]:
                    continue
                cls = (sizes or {}).get(h) if key in AUTO_SIZED_KEYS else None
                buckets.setdefault(cls, []).append(h)
            for cls, peer_hosts in buckets.items():
                if len(peer_hosts) < min_peers:
                    continue
                counts = Counter(_key_str(values[h][key]) for h in peer_hosts)
                top, n = counts.most_common(1)[0]
                if n * 2 <= len(peer_hosts) or n == len(peer_hosts):
                    continue
                majority_val = next(values[h][key] for h in peer_hosts if _key_str(values[h][key]) == top)
                size_note = ""
                if cls is not None:
                    size_note = f", same size ({cls[0]} GB, {cls[1]} CPUs)" if isinstance(cls, tuple) else ""
                for h in peer_hosts:
                    if _key_str(values[h][key]) != top and (h, key) not in out:
                        out[(h, key)] = Drift(
                            h, key, values[h][key], f"== {fmt(majority_val)}", "outlier",
                            detail=f"{n} of {len(peer_hosts)} hosts in group {group}{size_note} have "
                                   f"{fmt(majority_val)}",
                            fix=f"sysctl -w {key}='{fmt(majority_val)}'")
    return sorted(out.values(), key=lambda d: (d.host, d.key))


# ----------------------------------------------------------------------------- changed


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "the previous run"


def lens_changed(host: str, current: Mapping[str, Any], previous: Mapping[str, Any] | None,
                 previous_at: datetime | None = None) -> list[Drift]:
    """Keys whose value differs from the previous snapshot (appeared or vanished keys too)."""
    if previous is None:
        return []
    out: list[Drift] = []
    for key in sorted(set(current) | set(previous)):
        if key in VOLATILE_KEYS:
            continue
        before, now = previous.get(key), current.get(key)
        if key not in previous or key not in current or not same(before, now):
            out.append(Drift(host, key, now, f"{fmt(before)} (as on {_when(previous_at)})", "changed",
                             severity="info",
                             detail=f"{fmt(before)} → {fmt(now)} since {_when(previous_at)}"))
    return out


# ----------------------------------------------------------------------------- persisted


def lens_persisted(host: str, running: Mapping[str, Any],
                   persisted: Mapping[str, tuple[Any, str]]) -> list[Drift]:
    """Running value vs what the sysctl files will apply at the next boot, either direction.

    *persisted*: key -> (value, source file). Glob keys (``net.ipv4.conf.*.rp_filter``) and
    keys the running kernel does not have (or that could not be read) are not compared.
    """
    out: list[Drift] = []
    for key, (want, source) in sorted(persisted.items()):
        if "*" in key or key in VOLATILE_KEYS:
            continue
        if key not in running or running[key] is None:
            continue
        if not same(running[key], want):
            out.append(Drift(host, key, running[key], f"{fmt(want)} (at next boot, from {source})", "persisted",
                             detail=f"running {fmt(running[key])}, {source} sets {fmt(want)}: either the "
                                    "running value was changed without persisting it, or the file was "
                                    "edited and not applied",
                             fix=f"persist the running value in {source}, or apply the file: "
                                 f"sysctl -w {key}='{fmt(want)}'"))
    return out


# ----------------------------------------------------------------------------- waivers


@dataclass
class WaiverMatch:
    host: str  # host name, "group:NAME" or "*"
    key: str  # sysctl key or "*"
    until: datetime | None
    reason: str = ""
    who: str | None = None
    id: int | None = None
    extra: dict = field(default_factory=dict)

    def applies(self, host: str, groups: Sequence[str], key: str, now: datetime) -> bool:
        if self.until is not None and self.until <= now:
            return False
        if self.key not in ("*", key):
            return False
        if self.host in ("*", host):
            return True
        return self.host.startswith("group:") and self.host[6:] in groups


def apply_waivers(drifts: list[Drift], waivers: Sequence[WaiverMatch], host_groups: Mapping[str, Sequence[str]],
                  now: datetime) -> tuple[list[Drift], list[Drift]]:
    """Split drifts into (active, waived); a waived drift carries its waiver (until, reason, who)."""
    active: list[Drift] = []
    waived: list[Drift] = []
    for d in drifts:
        w = next((w for w in waivers if w.applies(d.host, host_groups.get(d.host, ()), d.key, now)), None)
        if w is None:
            active.append(d)
        else:
            d.waived = {"until": w.until.isoformat() if w.until else None, "reason": w.reason, "who": w.who,
                        "id": w.id}
            waived.append(d)
    return active, waived
