"""Drop reasons: which packets the target's kernel freed, why and where, during the probe window.

``DropWindow.start`` creates a private tracing instance on the target
(``/sys/kernel/tracing/instances/whycant-<id>``, never the global buffer) and enables
``skb:kfree_skb`` (Linux >= 5.17 prints a drop reason) there; when the kernel runs other
network namespaces, also ``net:netif_receive_skb`` and ``fib:fib_table_lookup`` so drops
can be attributed by device and address. ``stop`` disables the events, reads the trace
and removes the instance. Every step is one fixed script with fixed paths (the only
arguments are a random hex id and a number of seconds); nothing is mounted and nothing
persists: the instance is removed by ``stop`` (called from a ``finally`` in the collector,
so also after a failed or timed-out diagnosis) and, should the bot never get to call it,
by a watchdog the start script leaves on the target that removes it after ``max_s``.

Unavailable (not root and no ``ssh.sudo``, tracefs not mounted, lockdown, kernel without
drop reasons) is one line in the evidence; the diagnosis goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable

from probes.errors import ParseError, WhycantError
from probes.evidence import DropReason, DropTrace, HostEvidence, ProbeRecord
from probes.inventory import Host
from probes.parsers.drop_trace import TraceDrop, parse_trace
from probes.transports.base import Transport

log = logging.getLogger("whycant.probes.drop_reasons")
ABORT_WAIT_CANCELLED = 2.0  # seconds a cancelled diagnosis waits for the tracing instance to be removed

ID_RE = re.compile(r"^[0-9a-f]{12}$")
MAX_WINDOW_S = 600  # the watchdog never lets an instance live longer than this
TRACE_CAP_BYTES = 32 * 1024 * 1024
_SCRIPT_NAME = "whycant-drop-reasons"

# $1 = start|stop|check, $2 = instance id (12 hex digits), $3 = watchdog seconds (start).
SCRIPT = r"""set -u
act=$1 id=$2 max=${3:-0}
case "$id" in *[!0-9a-f]*|"") echo "error bad-id"; exit 2;; esac
case "$max" in *[!0-9]*|"") echo "error bad-max"; exit 2;; esac
T=/sys/kernel/tracing
[ -e $T/events ] || [ ! -e /sys/kernel/debug/tracing/events ] || T=/sys/kernel/debug/tracing
I=$T/instances/whycant-$id
EV="skb/kfree_skb net/netif_receive_skb fib/fib_table_lookup"
off() { for e in $EV; do [ -e "$I/events/$e/enable" ] && echo 0 > "$I/events/$e/enable"; done 2>/dev/null; }
case "$act" in
check) [ -d "$I" ] && echo "present $I" || echo "gone $I"; exit 0;;
stop)
  [ -d "$I" ] || { echo "gone $I"; exit 0; }
  off
  echo "trace-begin"
  head -c 33554432 "$I/trace"
  echo; echo "trace-end"
  if rmdir "$I"; then echo "removed $I"; else echo "error rmdir $I"; fi
  exit 0;;
start) ;;
*) echo "error bad-action"; exit 2;;
esac
[ "$(id -u)" = 0 ] || { echo "unavailable not-root $(id -un)"; exit 0; }
if grep -qs '\[confidentiality\]' /sys/kernel/security/lockdown; then echo "unavailable lockdown"; exit 0; fi
[ -e $T/events ] || { echo "unavailable no-tracefs"; exit 0; }
F=$T/events/skb/kfree_skb/format
[ -r "$F" ] || { echo "unavailable no-event $(uname -r)"; exit 0; }
grep -q 'skb_drop_reason reason' "$F" || { echo "unavailable no-reason $(uname -r)"; exit 0; }
[ -d $T/instances ] || { echo "unavailable no-instances $(uname -r)"; exit 0; }
err=$(mkdir "$I" 2>&1) || { echo "unavailable mkdir $err"; exit 0; }
n=$(ls -l /proc/[0-9]*/ns/net 2>/dev/null | sed -n 's/.*-> //p' | sort -u | wc -l)
c=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
kb=$((16384 / c)); [ "$kb" -ge 64 ] || kb=64; [ "$kb" -le 1024 ] || kb=1024
echo "$kb" > "$I/buffer_size_kb" 2>/dev/null
S=; command -v setsid >/dev/null 2>&1 && S=setsid
$S sh -c 'i=0; while [ "$i" -lt "$2" ] && [ -d "$1" ]; do sleep 1; i=$((i+1)); done
  for e in skb/kfree_skb net/netif_receive_skb fib/fib_table_lookup; do echo 0 > "$1/events/$e/enable"; done
  rmdir "$1"' whycant-drop-watchdog "$I" "$max" </dev/null >/dev/null 2>&1 &
if ! echo 1 > "$I/events/skb/kfree_skb/enable"; then rmdir "$I"; echo "unavailable enable-failed"; exit 0; fi
if [ "$n" -gt 1 ]; then
  for e in net/netif_receive_skb fib/fib_table_lookup; do echo 1 > "$I/events/$e/enable"; done 2>/dev/null
fi
echo "armed $I netns=$n"
"""

UNAVAILABLE = {
    "not-root": "whycant logs in as {arg}, not root, and ssh.sudo is off",
    "lockdown": "kernel lockdown (confidentiality) forbids tracing",
    "no-tracefs": "tracefs is not mounted at /sys/kernel/tracing (whycant mounts nothing)",
    "no-event": "the kernel ({arg}) has no skb:kfree_skb tracepoint",
    "no-reason": "the kernel ({arg}) is too old: skb:kfree_skb has no drop reason before Linux 5.17",
    "no-instances": "the kernel ({arg}) has no tracing instances",
    "mkdir": "could not create a tracing instance: {arg}",
    "enable-failed": "could not enable skb:kfree_skb in the tracing instance",
    "sudo": "sudo -n refused to run the trace script: {arg}",
    "no-shell": "no sh on the target to run the trace script",
}


def script_argv(action: str, instance_id: str, max_s: int = 0, *, sudo: bool = False) -> list[str]:
    """The fixed command: only a validated hex id and a bounded integer are variable."""
    if action not in ("start", "stop", "check"):
        raise ValueError(f"drop-reasons action {action!r}")
    if not ID_RE.match(instance_id):
        raise ValueError(f"drop-reasons instance id {instance_id!r} is not 12 hex digits")
    max_s = int(max_s)
    if not 0 <= max_s <= MAX_WINDOW_S:
        raise ValueError(f"drop-reasons watchdog {max_s} s is outside 0..{MAX_WINDOW_S}")
    argv = ["sh", "-c", SCRIPT, _SCRIPT_NAME, action, instance_id, str(max_s)]
    return ["sudo", "-n", *argv] if sudo else argv


def unavailable_line(host: str, status_line: str) -> str:
    """``unavailable no-tracefs`` -> "drop reasons unavailable on db01: tracefs is not mounted …"."""
    parts = status_line.split(None, 2)
    key = parts[1] if len(parts) > 1 else "?"
    arg = parts[2] if len(parts) > 2 else ""
    why = UNAVAILABLE.get(key, status_line).format(arg=arg.strip())
    return f"drop reasons unavailable on {host}: {why}"


# ------------------------------------------------------------------ attribution (pure)
def _classify(d: TraceDrop, addrs: set[str], devs: set[str], shared: bool) -> str:
    """target | uncertain | elsewhere | other (see docs/drop-reasons.md)."""
    if not shared:
        return "target"
    if d.src is None and d.dst is None:
        return "uncertain"
    if d.received:
        if d.dst in addrs:
            return "target" if (not devs or d.dev in devs) else "uncertain"
        return "elsewhere" if d.src in addrs else "other"
    if d.src in addrs:
        return "target"
    return "elsewhere" if d.dst in addrs else "other"


def _group(host: str, drops: Iterable[TraceDrop], attribution: str) -> list[DropReason]:
    counts: Counter[tuple[str, str]] = Counter()
    devs: dict[tuple[str, str], set[str]] = {}
    srcs: dict[tuple[str, str], set[str]] = {}
    for d in drops:
        key = (d.reason, d.location)
        counts[key] += 1
        if d.dev:
            devs.setdefault(key, set()).add(d.dev)
        if d.src:
            srcs.setdefault(key, set()).add(d.src)
    return [
        DropReason(
            host=host,
            reason=r,
            location=loc,
            count=n,
            attribution=attribution,  # type: ignore[arg-type]
            devices=sorted(devs.get((r, loc), ()))[:8],
            sources=sorted(srcs.get((r, loc), ()))[:8],
        )
        for (r, loc), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def aggregate(
    host: str, drops: list[TraceDrop], addresses: Iterable[str], devices: Iterable[str], shared: bool
) -> tuple[list[DropReason], list[DropReason], int]:
    """(reasons on the host — target first, then uncertain —, this diagnosis' drops elsewhere, ignored)."""
    addrs, devs = {a for a in addresses if a}, set(devices)
    by: dict[str, list[TraceDrop]] = {"target": [], "uncertain": [], "elsewhere": [], "other": []}
    for d in drops:
        by[_classify(d, addrs, devs, shared)].append(d)
    reasons = _group(host, by["target"], "target") + _group(host, by["uncertain"], "uncertain")
    return reasons, _group(host, by["elsewhere"], "target"), len(by["other"])


def split_stop_output(stdout: str) -> tuple[str | None, list[str]]:
    """The trace between ``trace-begin``/``trace-end`` markers, and the status lines around it."""
    head, sep, rest = stdout.partition("trace-begin\n")
    if not sep:
        return None, [ln for ln in stdout.splitlines() if ln.strip()]
    trace, _, tail = rest.rpartition("trace-end")
    return trace, [ln for ln in (head + tail).splitlines() if ln.strip()]


# ------------------------------------------------------------------ the probe (I/O)
class DropWindow:
    """Start/stop of one drop-reason trace on the target; ``stop`` is safe to call twice."""

    def __init__(
        self, *, sudo: bool = False, command_timeout: float = 15.0, max_s: int = 120, instance_id: str | None = None
    ):
        self.sudo, self.command_timeout = sudo, command_timeout
        self.max_s = max(5, min(int(max_s), MAX_WINDOW_S))
        self.id = instance_id or secrets.token_hex(6)
        self.host: Host | None = None
        self.t: Transport | None = None
        self.ev: HostEvidence | None = None
        self.addresses: set[str] = set()
        self.devices: set[str] = set()
        self.shared = False
        self.armed = False
        self.begun = self.done = False
        self.instance: str | None = None
        self.t_start = 0.0

    async def _run(self, action: str) -> str:
        assert self.host is not None and self.t is not None
        argv = script_argv(action, self.id, self.max_s if action == "start" else 0, sudo=self.sudo)
        # the trace read-back is capped by the script itself (head -c TRACE_CAP_BYTES), not by the
        # transport's ordinary output cap; the status lines after it need a little room
        res = await self.t.run(self.host, argv, timeout=self.command_timeout, max_output=TRACE_CAP_BYTES + 65536)
        if self.sudo and res.exit_status != 0 and "sudo" in res.stderr:
            raise _Unavailable(f"unavailable sudo {res.stderr.strip().splitlines()[-1][:160]}")
        if res.exit_status == 127 and not res.stdout.strip():
            raise _Unavailable("unavailable no-shell")
        if res.exit_status != 0 and not res.stdout.strip():
            raise ParseError("drop_reasons", f"trace script exited {res.exit_status}: {res.stderr.strip()[:200]}")
        return res.stdout

    async def start(self, host: Host, transport: Transport, ev: HostEvidence, addresses: Iterable[str]) -> None:
        """Arm the trace; any failure becomes one line in ``ev.drops`` and a probe record."""
        self.host, self.t, self.ev, self.begun = host, transport, ev, True
        self.addresses = {a for a in addresses if a}
        rec = ProbeRecord(
            host=host.name,
            probe="drop_reasons",
            command=f"{'sudo -n ' if self.sudo else ''}sh -c <{_SCRIPT_NAME}> start {self.id} {self.max_s}",
        )
        t0 = time.monotonic()
        try:
            listing = await transport.list_dir(host, ["/sys/class/net"], timeout=self.command_timeout)
            self.devices = set(listing.get("/sys/class/net") or [])
            out = await self._run("start")
            status = next(
                (ln for ln in out.splitlines() if ln.split(" ", 1)[0] in ("armed", "unavailable", "error")),
                out.strip()[:200] or "no output",
            )
            if status.startswith("armed"):
                self.armed, self.t_start = True, time.monotonic()
                self.instance = status.split()[1]
                self.shared = any(
                    tok.startswith("netns=") and tok[6:].isdigit() and int(tok[6:]) > 1 for tok in status.split()
                )
            elif status.startswith("unavailable"):
                ev.drops = DropTrace(status="unavailable", detail=unavailable_line(host.name, status))
            else:
                raise ParseError("drop_reasons", f"unexpected answer from the trace script: {status!r}")
        except _Unavailable as e:
            ev.drops = DropTrace(status="unavailable", detail=unavailable_line(host.name, str(e)))
        except (WhycantError, ValueError) as e:
            rec.error, rec.error_kind = _short_error(e), getattr(e, "kind", "parse")
            ev.drops = DropTrace(status="failed", detail=f"drop reasons not traced on {host.name}: {rec.error}")
            if self.armed is False:
                await self.stop()  # a start that timed out after mkdir: remove what it made
        finally:
            rec.duration_s = round(time.monotonic() - t0, 4)
            ev.probes.append(rec)

    async def stop(self) -> None:
        """Disable, read and remove the instance (idempotent, also after a failed start)."""
        if self.host is None or self.t is None or self.ev is None:
            return
        was_armed, self.armed, self.done = self.armed, False, True
        window = round(time.monotonic() - self.t_start, 3) if was_armed else None
        try:
            out = await self._run("stop")
        except (WhycantError, _Unavailable) as e:
            log.warning(
                "drop-reasons stop on %s failed: %s (the target's watchdog removes the instance within %d s)",
                self.host.name,
                _short_error(e),
                self.max_s,
            )
            if was_armed:
                self.ev.drops = DropTrace(
                    status="failed",
                    instance=self.instance,
                    window_s=window,
                    detail=f"drop reasons not read on {self.host.name}: {_short_error(e)}",
                )
            return
        if not was_armed:
            return
        trace, status = split_stop_output(out)
        if trace is None:
            self.ev.drops = DropTrace(
                status="failed",
                instance=self.instance,
                window_s=window,
                detail=f"drop reasons lost on {self.host.name}: {'; '.join(status)[:200]}",
            )
            return
        try:
            parsed = parse_trace(trace) if trace.strip() else None
        except ParseError as e:
            self.ev.drops = DropTrace(
                status="failed",
                instance=self.instance,
                window_s=window,
                detail=f"drop reasons unreadable on {self.host.name}: {e}",
            )
            return
        drops = parsed.drops if parsed else []
        reasons, elsewhere, ignored = aggregate(self.host.name, drops, self.addresses, self.devices, self.shared)
        n = sum(r.count for r in reasons if r.attribution == "target")
        unsure = sum(r.count for r in reasons if r.attribution == "uncertain")
        detail = f"{self.host.name}: kernel drop reasons traced for {window:.1f} s: " + (
            f"{n} drop{'s' if n != 1 else ''}" if n else "no drops"
        )
        if self.shared:
            detail += (
                f" (the kernel runs other network namespaces: drops attributed by packet address; "
                f"{unsure} not attributable, {ignored} of other traffic ignored)"
            )
        if parsed and parsed.lost:
            detail += f"; {parsed.lost} events lost (the trace buffer overran): counts are lower bounds"
        errors = [ln for ln in status if ln.startswith("error")]
        if errors:
            detail += f"; {errors[0]}: the target's watchdog removes the instance within {self.max_s} s"
            log.warning("drop-reasons on %s: %s", self.host.name, errors[0])
        self.ev.drops = DropTrace(
            status="ok",
            detail=detail,
            instance=self.instance,
            window_s=window,
            shared_kernel=self.shared,
            reasons=reasons,
            elsewhere=elsewhere,
            ignored=ignored,
            lost=parsed.lost if parsed else 0,
        )

    async def abort(self, *, cancelled: bool = False) -> None:
        """``stop`` bounded in time, for ``finally`` blocks of a failed diagnosis; a cancelled one (signal,
        shutdown, timeout) waits at most ``ABORT_WAIT_CANCELLED`` s: the target's watchdog is the safety net."""
        if not self.begun or self.done:
            return
        limit = min(ABORT_WAIT_CANCELLED, self.command_timeout + 1) if cancelled else self.command_timeout + 1
        try:
            await asyncio.wait_for(asyncio.shield(self.stop()), timeout=limit)
        except (TimeoutError, asyncio.CancelledError):
            # no instance reported yet: the start was still in flight, and the watchdog it starts removes it
            log.log(
                logging.WARNING if self.instance else logging.INFO,
                "drop-reasons cleanup on %s did not finish; the target's watchdog removes %s within %d s",
                self.host.name if self.host else "?",
                self.instance or "the instance",
                self.max_s,
            )


class _Unavailable(Exception):
    pass


def _short_error(e: Exception) -> str:
    """A transport error without the (long, fixed) script text it quotes."""
    text = str(e).split(": sh -c ", 1)[0].split(": sudo -n sh -c ", 1)[0]
    kind = getattr(e, "kind", None)
    return f"{kind}: {text}" if kind and not text.startswith(kind) else text
