"""Evidence -> plain data for rules (docs/architecture.md §Data flow: rules are pure functions over data).

``build_context(evidence)`` returns a dict of plain values plus a few small helper
functions (closures over the same data) that playbook expressions call:

* counters: ``d(k)`` delta or 0, ``c(k)`` absolute or 0, ``v(k)`` delta when there is one
  else absolute, ``rate_of(k)``, ``rising(k, min_delta=1, min_abs=1000)`` (the single-snapshot
  threshold is higher), ``cite(k)`` one cited line, ``has_counter(k)``;
* sysctls: ``sysctl`` (dict; absent keys absent), ``sysctl_get(k, default=none)``, ``sv(k)``;
* connect: ``connect`` (vantage -> counts), ``vantages_with(outcome, min=1)``,
  ``describe(vantages, outcome)``, ``all_vantages``, ``remote_vantages``, ``local_vantage``,
  ``nat_vantages``;
* fixes: ``runtime_cmds(changes)``, ``dropin(name, changes)``, ``rollback_cmds(name, changes)``
  and the sizing functions from :mod:`bot.engine.sizing`.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from bot.engine import sizing, snapshot
from probes.evidence import Evidence
from probes.hostport import format_hostport

_KERNEL_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")

#: Every evidence name a rule may list in ``requires``.
EVIDENCE_NAMES = (
    "target", "counters", "counters_delta", "sysctls", "persisted_sysctls", "listeners", "facts",
    "kernel", "mem", "sockstat", "conntrack", "connect", "drop_reasons",
)

#: Which probe produces which evidence (to tell "not collected" from "probe failed").
PROBES_FOR = {
    "counters": ("counters_t0", "counters_t1", "counters"),
    "counters_delta": ("counters_t0", "counters_t1"),
    "sysctls": ("sysctls",),
    "persisted_sysctls": ("persisted_sysctls",),
    "listeners": ("listeners",),
    "facts": ("facts",),
    "kernel": ("facts",),
    "mem": ("facts",),
    "sockstat": ("sockstat",),
    "conntrack": ("conntrack", "facts"),
    "connect": ("connect",),
    "drop_reasons": ("drop_reasons",),
}

#: Transport-level failures: the target could not be logged in to at all.
# a command timeout ("timeout") is not a failed login: the host accepted it (issue 9 point 7)
SSH_ERROR_KINDS = {"connect", "auth", "host-key", "host-key-revoked", "jump-host", "ssh-config", "transport", "ssh",
                   "unreachable", "refused"}

_VERB = {
    "ok": "connected", "refused": "were refused", "timeout": "timed out", "reset": "were reset",
    "unreachable": "were unreachable", "addr_not_avail": "failed with EADDRNOTAVAIL (no local port)",
    "error": "failed",
}
_NAT_RE = re.compile(r"\bnat(?:'?d|ted)?\b|masquerad", re.I)


def kernel_tuple(release: str | None) -> tuple[int, int, int] | None:
    if not release:
        return None
    m = _KERNEL_RE.match(release.strip())
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def fmt_value(v: Any) -> str:
    """A sysctl value as ``sysctl -w`` and sysctl.d files spell it (vectors space-separated)."""
    if v is None:
        return "(absent)"
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    return str(v)


def _is_loopback(addr: str | None) -> bool:
    if not addr:
        return False
    a = addr.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return a in ("localhost",)


def _listener_label(addr: str, port: int) -> str:
    return format_hostport(addr, port)


def _num(n: float) -> str:
    if isinstance(n, float) and not n.is_integer():
        return f"{n:.1f}"
    return f"{int(n)}"


def build_context(evidence: Evidence, vantage_notes: dict[str, str] | None = None) -> dict[str, Any]:
    """Plain data (and small pure helpers) for rule expressions and templates.

    *vantage_notes* (vantage name -> note from the config, e.g. "office LAN, behind NAT")
    marks NAT'd vantages when the evidence itself does not carry a ``nat`` flag.
    """
    req = evidence.request
    tgt = evidence.target
    facts = tgt.facts if tgt else None

    # ---- target -----------------------------------------------------------------
    port = req.port if req and req.port else None
    if port is None and evidence.connect:
        port = evidence.connect[0].port
    name = (req.target if req else None) or (tgt.host if tgt else None) or "target"
    address = (req.address if req else None) or (tgt.address if tgt else None)
    if address is None and evidence.connect:
        address = evidence.connect[0].target_address
    target = {"name": name, "address": address, "port": port,
              "label": format_hostport(name, port), "hostport": format_hostport(address or name, port)}

    # ---- counters -----------------------------------------------------------------
    counters = dict(tgt.counters) if tgt else {}
    delta = dict(tgt.counters_delta) if tgt else {}
    window_s = tgt.window_s if tgt else None
    has_delta = bool(tgt and tgt.counters_t0 and tgt.counters_t1)
    if has_delta and not window_s:
        window_s = None
    rate = {k: (v / window_s) for k, v in delta.items()} if (has_delta and window_s) else {}
    has_counters = bool(counters)

    def d(key: str) -> int:
        return int(delta.get(key, 0))

    def c(key: str) -> int:
        return int(counters.get(key, 0))

    def v(key: str) -> int:
        return d(key) if has_delta else c(key)

    def rate_of(key: str) -> float:
        return float(rate.get(key, 0.0))

    def has_counter(key: str) -> bool:
        return key in counters

    uptime_s = facts.uptime_s if facts else None
    kernel_log = dict(facts.kernel_log or {}) if facts else {}

    def judged(key: str, min_abs: int = 1000) -> str:
        """How a snapshot counter is judged: delta | ratio | unjudged | absolute (see bot.engine.snapshot)."""
        return "delta" if has_delta else snapshot.judge(key, counters, min_abs).basis

    def rising(key: str, min_delta: int = 1, min_abs: int = 1000) -> bool:
        """Rose by *min_delta* between samples; in a single snapshot, a significant share of the
        traffic it saw (``bot.engine.snapshot.TRAFFIC``), else (no traffic ratio defined) >= *min_abs*."""
        if has_delta:
            return d(key) >= min_delta
        if has_counters:
            return snapshot.judge(key, counters, min_abs).significant
        return False

    def unjudged(keys: list[str] | str) -> list[str]:
        """The snapshot counters among *keys* that fired without the traffic counter to weigh them by."""
        keys = [keys] if isinstance(keys, str) else keys
        if has_delta or not has_counters:
            return []
        return [k for k in keys if c(k) > 0 and snapshot.judge(k, counters, 1).basis == "unjudged"]

    def moving(keys: list[str], min_delta: int = 1, min_abs: int = 1000) -> list[str]:
        """The subset of *keys* that rose (or, single snapshot, exceed *min_abs*)."""
        return [k for k in keys if rising(k, min_delta, min_abs)]

    def window_text() -> str:
        if has_delta:
            return f"in {_num(round(window_s, 1))} s" if window_s else "between the two samples"
        return "since boot (single snapshot)"

    def cite(key: str) -> str:
        if has_delta:
            if key not in delta:
                return f"{key} not reported by this kernel" if counters and key not in counters else f"{key} +0"
            s = f"{key} +{d(key)} {window_text()}"
            if window_s and d(key):
                s += f" ({rate_of(key):.1f}/s)"
            return s
        if key not in counters:
            return f"{key} not reported"
        how = snapshot.describe(snapshot.judge(key, counters, 1), uptime_s) if c(key) else ""
        return f"{key} {c(key)} {window_text()}" + (f" {how}" if how.startswith("=") else f", {how}" if how else "")

    # ---- sysctls ------------------------------------------------------------------
    sysctl = dict(tgt.sysctls) if tgt and tgt.sysctls is not None else {}

    def sysctl_get(key: str, default: Any = None) -> Any:
        return sysctl.get(key, default)

    def sv(key: str) -> str:
        return f"{key}={fmt_value(sysctl.get(key))}"

    # ---- facts --------------------------------------------------------------------
    osrelease = sysctl.get("kernel.osrelease")
    kernel_release = (facts.kernel_release if facts else None) or (osrelease if isinstance(osrelease, str) else None)
    kernel = kernel_tuple(kernel_release)
    mem_kb = facts.mem_total_kb if facts else None
    mem_gb = round(mem_kb / 1024 / 1024, 1) if mem_kb else None
    mem_source = "facts" if mem_gb else None
    tcp_mem = sysctl.get("net.ipv4.tcp_mem")
    if mem_gb is None and isinstance(tcp_mem, list) and len(tcp_mem) == 3 and tcp_mem[1] > 0:
        # the kernel's default tcp_mem[1] is 1/16 of the buffer pages: invert it for an estimate
        mem_gb = round(tcp_mem[1] * 16 * 4096 / (1 << 30), 1)
        mem_source = "estimated from net.ipv4.tcp_mem"
    cpus = facts.cpus if facts else None
    port_range = (facts.ip_local_port_range if facts and facts.ip_local_port_range else None) or (
        sysctl.get("net.ipv4.ip_local_port_range") if isinstance(sysctl.get("net.ipv4.ip_local_port_range"), list) else None)

    # ---- listeners ----------------------------------------------------------------
    listeners = []
    for li in (tgt.listeners or []) if tgt else []:
        listeners.append({
            "address": li.local_address, "port": li.port, "recv_q": li.recv_q, "send_q": li.send_q,
            "family": li.family, "loopback": _is_loopback(li.local_address), "wildcard": li.wildcard,
            "label": _listener_label(li.local_address, li.port),
            "full": li.send_q > 0 and li.recv_q > 0 and li.recv_q >= li.send_q,
        })
    on_port = [li for li in listeners if port is not None and li["port"] == port]
    listener = None
    for pref in (lambda x: x["wildcard"], lambda x: not x["loopback"], lambda x: True):
        cand = [li for li in on_port if pref(li)]
        if cand:
            listener = cand[0]
            break

    # ---- connect ------------------------------------------------------------------
    notes = vantage_notes or {}
    connect: dict[str, dict] = {}
    for cr in evidence.connect:
        row = cr.summary()
        note = getattr(cr, "note", None) or notes.get(cr.vantage)
        nat = bool(getattr(cr, "nat", False)) or bool(note and _NAT_RE.search(note))
        local = bool(getattr(cr, "local", None)) or cr.vantage_host in (name, address) or (
            tgt is not None and cr.vantage_host == tgt.host) or _is_loopback(cr.target_address)
        row.update({"host": cr.vantage_host, "address": cr.target_address, "nat": bool(nat), "note": note,
                    "local": local, "error": cr.error, "ran": bool(cr.attempts)})
        row["failed"] = row["attempts"] - row["ok"]
        connect[cr.vantage] = row
    ran = [n for n, r in connect.items() if r["ran"]]
    local_vantage = next((n for n in ran if connect[n]["local"]), None)
    remote_vantages = [n for n in ran if not connect[n]["local"]]

    def vantages_with(outcome: str, min: int = 1, among: list[str] | None = None,  # noqa: A002
                      frac: float = 0.0) -> list[str]:
        """Vantages with at least *min* attempts (and *frac* of their attempts) of *outcome*."""
        names = ran if among is None else among
        return [n for n in names if n in connect and connect[n].get(outcome, 0) >= max(min, 1)
                and connect[n].get(outcome, 0) >= frac * connect[n]["attempts"]]

    def vantages_all(outcome: str, among: list[str] | None = None) -> list[str]:
        """Vantages whose every attempt had *outcome*."""
        names = ran if among is None else among
        return [n for n in names if connect[n]["attempts"] and connect[n].get(outcome, 0) == connect[n]["attempts"]]

    def describe(names: list[str] | str, outcome: str) -> str:
        if isinstance(names, str):
            names = [names]
        parts = []
        for i, n in enumerate(names):
            r = connect.get(n)
            if not r:
                continue
            nat = " (NAT'd)" if r["nat"] else ""
            if i == 0:
                parts.append(f"{r.get(outcome, 0)}/{r['attempts']} connects from {n}{nat} {_VERB.get(outcome, outcome)}")
            else:
                parts.append(f"{r.get(outcome, 0)}/{r['attempts']} from {n}{nat}")
        return ", ".join(parts)

    def attempts_from(names: list[str]) -> int:
        return sum(connect[n]["attempts"] for n in names if n in connect)

    # ---- conntrack / sockstat -----------------------------------------------------
    conntrack = None
    if facts and (facts.conntrack_count is not None or facts.conntrack_max is not None or facts.conntrack_stats):
        cnt, mx = facts.conntrack_count, facts.conntrack_max
        conntrack = {"count": cnt, "max": mx, "stats": dict(facts.conntrack_stats or {}),
                     "pct": round(100.0 * cnt / mx, 1) if cnt is not None and mx else None}
    sockstat = dict(tgt.sockstat) if tgt and tgt.sockstat else {}

    def sock(*keys: str) -> int | None:
        """First present of several sockstat spellings (``TCP.tw``, ``timewait``); None if none."""
        for k in keys:
            if k in sockstat:
                return int(sockstat[k])
        return None

    # ---- drop reasons (skb:kfree_skb on the target, probes/drop_reasons.py) -------
    trace = tgt.drops if tgt else None
    drops_ok = bool(trace and trace.status == "ok")
    drop_rows = [r.model_dump() for r in (trace.reasons if trace else [])]

    def drops(reason: str | None = None, attribution: str = "target", src: str | None = None) -> int:
        """Packets the target dropped (with *reason*; from source address *src*) during the window."""
        return sum(r["count"] for r in drop_rows if r["attribution"] == attribution
                   and (reason is None or r["reason"] == reason) and (src is None or src in r["sources"]))

    def drop_cite(reason: str | None = None) -> str:
        """One evidence line: the target's drops (of *reason*) by location, or why there are none."""
        if trace is None:
            return ""
        if not drops_ok:
            return trace.detail
        rows = [r for r in drop_rows if r["attribution"] == "target" and (reason is None or r["reason"] == reason)]
        if not rows:
            return f"{name}'s kernel dropped no packet{' with ' + reason if reason else ''} in {trace.window_s or 0:.1f} s (kfree_skb drop reasons)"
        return "kfree_skb on " + name + ": " + ", ".join(
            f"{r['reason']} at {r['location']} ×{r['count']}" + (f" (from {', '.join(r['sources'][:3])})" if r["sources"] else "")
            for r in rows[:4])

    # ---- availability -------------------------------------------------------------
    probe_errors = evidence.probe_errors()
    target_errors = [p for p in (tgt.errors() if tgt else [])]
    ssh_errors = [p for p in target_errors if (p.error_kind or "").lower() in SSH_ERROR_KINDS]
    target_probed = bool(tgt and any(p.ok for p in tgt.probes))
    available = {
        "target": bool(tgt) and (target_probed or bool(counters or sysctl or listeners or facts)),
        "counters": has_counters,
        "counters_delta": has_delta,
        "sysctls": bool(tgt and tgt.sysctls is not None),
        "persisted_sysctls": bool(tgt and tgt.persisted_sysctls is not None),
        "listeners": bool(tgt and tgt.listeners is not None),
        "facts": facts is not None,
        "kernel": kernel is not None,
        "mem": mem_gb is not None,
        "sockstat": bool(sockstat),
        "conntrack": conntrack is not None,
        "connect": bool(ran),
        "drop_reasons": drops_ok,
    }
    missing = [k for k, ok in available.items() if not ok]
    failed_probes = {p["probe"].split(":")[0] for p in probe_errors}
    if tgt:
        failed_probes |= {p.probe for p in target_errors}
    missing_by_error = [k for k in missing if failed_probes & set(PROBES_FOR.get(k, ()))
                        or (k == "target" and ssh_errors) or (ssh_errors and k != "connect")]

    # ---- fix helpers --------------------------------------------------------------
    def runtime_cmds(changes: dict) -> str:
        return "\n".join(f"sysctl -w {k}={_q(fmt_value(val))}" for k, val in changes.items())

    def dropin(name_: str, changes: dict, comment: str = "") -> str:
        path = f"/etc/sysctl.d/90-whycant-{name_}.conf"
        body = "\n".join(f"{k} = {fmt_value(val)}" for k, val in changes.items())
        head = f"# {comment}\n" if comment else ""
        return f"cat > {path} <<'EOF'\n{head}{body}\nEOF\nsysctl --system"

    def rollback_cmds(name_: str, changes: dict) -> str:
        """Restore the values seen now (absent keys are left alone) and drop the file."""
        lines = []
        for k in changes:
            if k in sysctl:
                lines.append(f"sysctl -w {k}={_q(fmt_value(sysctl[k]))}")
            else:
                lines.append(f"# {k} was not readable before the change; nothing to restore")
        lines.append(f"rm -f /etc/sysctl.d/90-whycant-{name_}.conf && sysctl --system")
        return "\n".join(lines)

    def raise_to(wanted: dict) -> dict:
        """The subset of *wanted* sysctls whose current value is absent or lower (vectors: last item)."""
        out = {}
        for k, want in wanted.items():
            cur = sysctl.get(k)
            a = cur[-1] if isinstance(cur, list) and cur else cur
            b = want[-1] if isinstance(want, list) and want else want
            if not isinstance(a, int) or (isinstance(b, int) and a < b):
                out[k] = want
        return out

    def differs(wanted: dict) -> dict:
        """The subset of *wanted* sysctls whose current value differs (absent counts as differing)."""
        return {k: w for k, w in wanted.items() if sysctl.get(k) != w}

    ctx: dict[str, Any] = {
        "raise_to": raise_to, "differs": differs, "merge": _merge,
        "target": target, "port": port, "source": evidence.source,
        "counters": counters, "delta": delta, "window_s": window_s, "rate": rate,
        "has_counters": has_counters, "has_delta": has_delta, "snapshot": has_counters and not has_delta,
        "d": d, "c": c, "v": v, "rate_of": rate_of, "rising": rising, "cite": cite,
        "has_counter": has_counter, "moving": moving, "judged": judged, "unjudged": unjudged,
        "uptime_s": uptime_s, "kernel_log": kernel_log, "window_text": window_text(),
        "sysctl": sysctl, "sysctl_get": sysctl_get, "sv": sv, "fmt": fmt_value,
        "kernel": kernel, "kernel_release": kernel_release, "kernel_known": kernel is not None,
        "mem_kb": mem_kb, "mem_gb": mem_gb, "mem_source": mem_source, "cpus": cpus, "port_range": port_range,
        "listeners": listeners, "listeners_on_port": on_port, "listener": listener,
        "connect": connect, "all_vantages": ran, "remote_vantages": remote_vantages,
        "local_vantage": local_vantage, "nat_vantages": [n for n in ran if connect[n]["nat"]],
        "vantages_with": vantages_with, "vantages_all": vantages_all, "describe": describe,
        "attempts_from": attempts_from, "has_connect": bool(ran),
        "vantage_errors": [{"vantage": n, "host": r["host"], "error": r["error"]}
                           for n, r in connect.items() if r["error"]],
        "conntrack": conntrack, "sockstat": sockstat, "sock": sock,
        "drop_trace": trace.model_dump() if trace else None, "drops_ok": drops_ok, "drop_rows": drop_rows,
        "drops": drops, "drop_cite": drop_cite,
        "probe_errors": probe_errors,
        "target_errors": [{"probe": p.probe, "error": p.error, "kind": p.error_kind} for p in target_errors],
        "target_ssh_failed": bool(ssh_errors),
        "available": available, "missing": missing, "missing_by_error": missing_by_error,
        "runtime_cmds": runtime_cmds, "dropin": dropin, "rollback_cmds": rollback_cmds,
    }
    for fn in ("scale_backlog", "scale_syn_backlog", "app_backlog", "conntrack_max_for", "conntrack_buckets_for",
               "port_range_for", "port_range_size", "tw_buckets_for", "rmem_max_for", "tcp_mem_for",
               "orphans_for", "netdev_backlog_for", "gc_thresh_for", "next_pow2"):
        ctx[fn] = getattr(sizing, fn)
    return ctx


def _merge(*dicts: dict) -> dict:
    out: dict = {}
    for d_ in dicts:
        out.update(d_ or {})
    return out


def _q(s: str) -> str:
    return f'"{s}"' if " " in s else s
