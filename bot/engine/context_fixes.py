"""The fix part of a rule's context: commands built from the host's own values (``runtime_cmds``,
``dropin``, ``rollback_cmds``, ``raise_to``, ``differs``, ``merge``) and the sizing functions of
``bot.engine.sizing``."""

from __future__ import annotations

from typing import Any

from bot.engine import sizing
from bot.engine.values import fmt_value

SIZING = (
    "scale_backlog",
    "scale_syn_backlog",
    "app_backlog",
    "conntrack_max_for",
    "conntrack_buckets_for",
    "port_range_for",
    "port_range_size",
    "tw_buckets_for",
    "rmem_max_for",
    "tcp_mem_for",
    "orphans_for",
    "netdev_backlog_for",
    "gc_thresh_for",
    "next_pow2",
)


def fix_context(sysctl: dict[str, Any]) -> dict[str, Any]:
    """Fix helpers over the target's current sysctls (*sysctl*; absent keys absent)."""

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
        "raise_to": raise_to,
        "differs": differs,
        "merge": merge,
        "runtime_cmds": runtime_cmds,
        "dropin": dropin,
        "rollback_cmds": rollback_cmds,
    }
    for fn in SIZING:
        ctx[fn] = getattr(sizing, fn)
    return ctx


def merge(*dicts: dict) -> dict:
    """The dicts merged left to right (None counts as empty)."""
    out: dict = {}
    for d_ in dicts:
        out.update(d_ or {})
    return out


def _q(s: str) -> str:
    return f'"{s}"' if " " in s else s
