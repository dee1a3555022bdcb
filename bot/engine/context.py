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

The counter, connect and fix parts are built in ``context_counters``, ``context_connect`` and
``context_fixes``; plain value formatting (``fmt_value``, ``kernel_tuple``) is in ``values``.
"""

from __future__ import annotations

from typing import Any

from bot.engine.context_connect import connect_context
from bot.engine.context_counters import counter_context
from bot.engine.context_fixes import fix_context
from bot.engine.values import fmt_value, is_loopback, kernel_tuple
from probes.evidence import Evidence
from probes.hostport import format_hostport

#: Every evidence name a rule may list in ``requires``.
EVIDENCE_NAMES = (
    "target",
    "counters",
    "counters_delta",
    "sysctls",
    "persisted_sysctls",
    "listeners",
    "facts",
    "kernel",
    "mem",
    "sockstat",
    "conntrack",
    "connect",
    "drop_reasons",
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
SSH_ERROR_KINDS = {
    "connect",
    "auth",
    "host-key",
    "host-key-revoked",
    "jump-host",
    "ssh-config",
    "transport",
    "ssh",
    "unreachable",
    "refused",
}


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
    target = {
        "name": name,
        "address": address,
        "port": port,
        "label": format_hostport(name, port),
        "hostport": format_hostport(address or name, port),
    }

    # ---- counters (bot.engine.context_counters) -----------------------------------
    counter_ctx = counter_context(tgt)
    counters, has_counters, has_delta = counter_ctx["counters"], counter_ctx["has_counters"], counter_ctx["has_delta"]

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
        sysctl.get("net.ipv4.ip_local_port_range")
        if isinstance(sysctl.get("net.ipv4.ip_local_port_range"), list)
        else None
    )

    # ---- listeners ----------------------------------------------------------------
    listeners = []
    for li in (tgt.listeners or []) if tgt else []:
        listeners.append(
            {
                "address": li.local_address,
                "port": li.port,
                "recv_q": li.recv_q,
                "send_q": li.send_q,
                "family": li.family,
                "loopback": is_loopback(li.local_address),
                "wildcard": li.wildcard,
                "label": format_hostport(li.local_address, li.port),
                "full": li.send_q > 0 and li.recv_q > 0 and li.recv_q >= li.send_q,
            }
        )
    on_port = [li for li in listeners if port is not None and li["port"] == port]
    listener = None
    for pref in (lambda x: x["wildcard"], lambda x: not x["loopback"], lambda x: True):
        cand = [li for li in on_port if pref(li)]
        if cand:
            listener = cand[0]
            break

    # ---- connect (bot.engine.context_connect) --------------------------------------
    connect_ctx = connect_context(evidence, name, address, vantage_notes)

    # ---- conntrack / sockstat -----------------------------------------------------
    conntrack = None
    if facts and (facts.conntrack_count is not None or facts.conntrack_max is not None or facts.conntrack_stats):
        cnt, mx = facts.conntrack_count, facts.conntrack_max
        conntrack = {
            "count": cnt,
            "max": mx,
            "stats": dict(facts.conntrack_stats or {}),
            "pct": round(100.0 * cnt / mx, 1) if cnt is not None and mx else None,
        }
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
        return sum(
            r["count"]
            for r in drop_rows
            if r["attribution"] == attribution
            and (reason is None or r["reason"] == reason)
            and (src is None or src in r["sources"])
        )

    def drop_cite(reason: str | None = None) -> str:
        """One evidence line: the target's drops (of *reason*) by location, or why there are none."""
        if trace is None:
            return ""
        if not drops_ok:
            return trace.detail
        rows = [r for r in drop_rows if r["attribution"] == "target" and (reason is None or r["reason"] == reason)]
        if not rows:
            return f"{name}'s kernel dropped no packet{' with ' + reason if reason else ''} in {trace.window_s or 0:.1f} s (kfree_skb drop reasons)"
        return (
            "kfree_skb on "
            + name
            + ": "
            + ", ".join(
                f"{r['reason']} at {r['location']} ×{r['count']}"
                + (f" (from {', '.join(r['sources'][:3])})" if r["sources"] else "")
                for r in rows[:4]
            )
        )

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
        "connect": connect_ctx["has_connect"],
        "drop_reasons": drops_ok,
    }
    missing = [k for k, ok in available.items() if not ok]
    failed_probes = {p["probe"].split(":")[0] for p in probe_errors}
    if tgt:
        failed_probes |= {p.probe for p in target_errors}
    missing_by_error = [
        k
        for k in missing
        if failed_probes & set(PROBES_FOR.get(k, ()))
        or (k == "target" and ssh_errors)
        or (ssh_errors and k != "connect")
    ]

    return {
        "target": target,
        "port": port,
        "source": evidence.source,
        **counter_ctx,
        "sysctl": sysctl,
        "sysctl_get": sysctl_get,
        "sv": sv,
        "fmt": fmt_value,
        "kernel": kernel,
        "kernel_release": kernel_release,
        "kernel_known": kernel is not None,
        "mem_kb": mem_kb,
        "mem_gb": mem_gb,
        "mem_source": mem_source,
        "cpus": cpus,
        "port_range": port_range,
        "listeners": listeners,
        "listeners_on_port": on_port,
        "listener": listener,
        **connect_ctx,
        "conntrack": conntrack,
        "sockstat": sockstat,
        "sock": sock,
        "drop_trace": trace.model_dump() if trace else None,
        "drops_ok": drops_ok,
        "drop_rows": drop_rows,
        "drops": drops,
        "drop_cite": drop_cite,
        "probe_errors": probe_errors,
        "target_errors": [{"probe": p.probe, "error": p.error, "kind": p.error_kind} for p in target_errors],
        "target_ssh_failed": bool(ssh_errors),
        "available": available,
        "missing": missing,
        "missing_by_error": missing_by_error,
        **fix_context(sysctl),  # bot.engine.context_fixes
    }
