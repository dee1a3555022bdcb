"""Run the probes of one diagnosis in parallel and assemble the Evidence.

Plan (docs/architecture.md §Data flow): target counters T0 -> connect tests from every vantage (and
sysctls, listeners, facts meanwhile) -> target counters T1 once the window has
passed -> listeners again. A failed probe is recorded and never hides the others.

The parts: ``host_probe`` (the probes of one host, ``ProbeSettings``), ``transport_set`` (which
transport reaches a host), ``connect``/``connect_batch`` (the connect tests), here the plan.
``HostProbe``, ``ProbeSettings``, ``TransportSet`` and the file lists stay importable from here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Sequence

from probes.connect import PY_SCRIPT, connect_argv, local_connect, parse_attempts
from probes.connect_batch import ConnectBatcher
from probes.dial_address import ResolveFailed, resolve_address, self_dial_address
from probes.drop_reasons import DropWindow
from probes.errors import TransportError
from probes.evidence import ConnectResult, Evidence, HostEvidence, ProbeRecord, Request
from probes.host_probe import COUNTER_FILES, FACT_FILES, HostProbe, ProbeSettings
from probes.inventory import Host
from probes.limits import BudgetExceeded, TargetLimiter
from probes.transport_set import TransportSet

log = logging.getLogger("whycant.probes")

__all__ = [
    "COUNTER_FILES",
    "FACT_FILES",
    "Collector",
    "HostProbe",
    "ProbeSettings",
    "ProgressFn",
    "TransportSet",
    "VantagePoint",
]

ProgressFn = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class VantagePoint:
    name: str
    host: Host
    nat: bool = False
    note: str | None = None


class Collector:
    """Collects evidence for diagnoses (``collect``) and single-host snapshots (``snapshot``)."""

    def __init__(
        self,
        transports: TransportSet,
        settings: ProbeSettings,
        limiter: TargetLimiter | None = None,
        batch_window: float = 0.0,
    ):
        self.transports, self.s, self.limiter = transports, settings, limiter
        self.batcher = ConnectBatcher(batch_window) if batch_window > 0 else None

    async def connect_from(self, v: VantagePoint, address: str, port: int) -> ConnectResult:
        s = self.s
        res = ConnectResult(
            vantage=v.name, vantage_host=v.host.name, target_address=address, port=port, nat=v.nat, note=v.note
        )
        start = time.monotonic()
        try:
            if v.host.is_local and v.host.name not in self.transports.overrides:
                res.runner = "local"
                res.attempts = await local_connect(
                    address, port, s.connect_attempts, s.connect_timeout, s.connect_interval
                )
            else:
                t = self.transports.for_host(v.host)
                budget = s.connect_timeout + s.connect_attempts * s.connect_interval + s.command_timeout
                argv = connect_argv("python3", address, port, s.connect_attempts, s.connect_timeout, s.connect_interval)
                if self.batcher is not None:  # many diagnoses at once: one process per vantage
                    out = await self.batcher.run(
                        t,
                        v.host,
                        address,
                        port,
                        attempts=s.connect_attempts,
                        timeout=s.connect_timeout,
                        interval=s.connect_interval,
                        budget=budget,
                    )
                else:
                    out = await t.run(v.host, argv, timeout=budget, stdin=PY_SCRIPT)
                res.runner = "python3"
                if out.exit_status == 127:
                    argv = connect_argv(
                        "bash", address, port, s.connect_attempts, s.connect_timeout, s.connect_interval
                    )
                    out = await t.run(v.host, argv, timeout=budget * 2)
                    res.runner = "bash"
                res.attempts = parse_attempts(out.stdout)
                if not res.attempts:
                    res.error = f"connect test printed nothing (exit {out.exit_status}): {out.stderr.strip()[:200]}"
                    res.error_kind = "parse"
        except TransportError as e:
            res.error, res.error_kind = f"{e.kind}: {e.message}", e.kind
        except ValueError as e:
            res.error, res.error_kind = f"refused to run: {e}", "bad-input"
        res.duration_s = round(time.monotonic() - start, 4)
        return res

    async def collect(
        self,
        request: Request,
        target: Host,
        vantages: Sequence[VantagePoint],
        *,
        on_progress: ProgressFn | None = None,
        extra_sysctls: Sequence[str] = (),
        self_vantage: bool = True,
    ) -> Evidence:
        """Evidence for one diagnosis of ``target`` (and ``request.port`` when given)."""
        s = self.s
        drops = DropWindow(
            sudo=s.sudo,
            command_timeout=s.command_timeout,
            max_s=int(
                s.window_seconds
                + s.connect_attempts * (s.connect_timeout + s.connect_interval)
                + 4 * s.command_timeout
                + 30
            ),
        )
        cancelled = False
        try:
            return await self._collect(request, target, vantages, drops, on_progress, extra_sysctls, self_vantage)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:  # also when the diagnosis fails or is cancelled (timeout, signal): remove the tracing instance
            await drops.abort(cancelled=cancelled)

    async def _collect(
        self,
        request: Request,
        target: Host,
        vantages: Sequence[VantagePoint],
        drops: DropWindow,
        on_progress: ProgressFn | None,
        extra_sysctls: Sequence[str],
        self_vantage: bool,
    ) -> Evidence:
        started, t_start = time.time(), time.monotonic()

        async def progress(stage: str, message: str, **kw: Any) -> None:
            if on_progress is not None:
                try:
                    await on_progress(stage, message, kw)
                except Exception:  # noqa: BLE001 - progress is best effort
                    log.warning("progress callback failed", exc_info=True)

        ev = HostEvidence(host=target.name, address=target.address)
        probe_target = target.probe_ssh and not target.adhoc
        dial = request.address
        if request.port:  # connect tests dial an IP: a DNS name is resolved first (docs/inventory.md)
            try:
                dial = await resolve_address(request.address, self.s.dns_timeout)
            except ResolveFailed as e:
                return await self._unresolved(request, ev, e, started, t_start, progress)
            if dial != request.address:
                request = request.model_copy(update={"resolved_address": dial})
        hp = HostProbe(target, self.transports.for_host(target), self.s, ev) if probe_target else None
        evidence = Evidence(source="live", request=request, target=ev if probe_target else None, started_at=started)
        await progress(
            "planned",
            f"probing {target.name}"
            + (f":{request.port}" if request.port else "")
            + (f" from {', '.join(v.name for v in vantages)}" if vantages and request.port else ""),
        )

        if hp is not None:
            await asyncio.gather(hp.counters("counters_t0"), hp.listeners())
            if self.s.drop_reasons and request.port and hp.unreachable is None and hp.unsupported is None:
                await drops.start(target, hp.t, ev, (request.address, target.address))
        t0_done = time.monotonic()

        async def one_vantage(v: VantagePoint) -> ConnectResult:
            r = await self.connect_from(v, dial, request.port or 0)
            if r.error:
                await progress("connect", f"{v.name}: could not test ({r.error})", vantage=v.name)
            else:
                detail = ", ".join(
                    f"{r.count(o)} {o}"
                    for o in ("refused", "timeout", "reset", "unreachable", "addr_not_avail", "error")
                    if r.count(o)
                )
                await progress(
                    "connect",
                    f"{v.name}: {r.count('ok')}/{len(r.attempts)} connected" + (f", {detail}" if detail else ""),
                    vantage=v.name,
                    done=r.count("ok"),
                    total=len(r.attempts),
                )
            return r

        tasks: list[Awaitable[Any]] = []
        vps = list(vantages)
        if request.port and hp is not None and self_vantage and hp.unreachable is None and not target.is_local:
            vps.append(VantagePoint("self", target, note="the target itself, over loopback"))
        if request.port:
            port = request.port
            tasks.append(
                self._limited_connects(
                    target,
                    request,
                    vps,
                    lambda: asyncio.gather(
                        *(one_vantage(v) if v.name != "self" else self._self_connect(v, port, ev, dial) for v in vps)
                    ),
                )
            )
        if hp is not None:
            tasks += [hp.sysctls(extra_sysctls), hp.facts()]
        results = await asyncio.gather(*tasks)
        if request.port:
            evidence.connect = list(results[0])

        if hp is not None:
            remaining = self.s.window_seconds - (time.monotonic() - t0_done)
            if remaining > 0:
                await asyncio.sleep(remaining)
            await asyncio.gather(hp.counters("counters_t1"), hp.listeners(), drops.stop())
            await progress("counters_t1", f"{target.name}: counters sampled again after {ev.window_s or 0:.1f} s")
        evidence.duration_s = round(time.monotonic() - t_start, 3)
        return evidence

    async def _limited_connects(
        self,
        target: Host,
        request: Request,
        vps: Sequence[VantagePoint],
        run: Callable[[], Awaitable[Sequence[ConnectResult]]],
    ) -> list[ConnectResult]:
        """The connect phase inside the limiter's per-target SYN budget (probes/limits.py); when the
        budget is used up, every vantage's test is reported as not run, naming the limit."""
        if self.limiter is None or not request.port:
            return list(await run())
        try:
            async with self.limiter.connect_budget(target.name, request.port, len(vps) * self.s.connect_attempts):
                return list(await run())
        except BudgetExceeded as e:
            return [
                ConnectResult(
                    vantage=v.name,
                    vantage_host=v.host.name,
                    port=request.port,
                    nat=v.nat,
                    note=v.note,
                    target_address="127.0.0.1" if v.name == "self" else request.address,
                    error=f"rate-limited: not run: {e}",
                    error_kind="rate-limited",
                )
                for v in vps
            ]

    async def _self_connect(self, v: VantagePoint, port: int, ev: HostEvidence, dial: str) -> ConnectResult:
        """The target dials what it listens on: loopback for wildcard sockets, else its bound address."""
        address = self_dial_address(ev.listeners, port, own=[dial, v.host.address])
        if address not in ("127.0.0.1", "::1"):
            v = replace(v, note=f"the target itself, to the address it listens on ({address})")
        return await self.connect_from(v, address, port)

    async def _unresolved(
        self,
        request: Request,
        ev: HostEvidence,
        error: ResolveFailed,
        started: float,
        t_start: float,
        progress: Callable[..., Awaitable[None]],
    ) -> Evidence:
        """Evidence for a target whose DNS name did not resolve: one clear error, nothing probed."""
        ev.probes.append(
            ProbeRecord(
                host=ev.host,
                probe="resolve",
                command=f"getaddrinfo {request.address}",
                error=f"dns: {error}",
                error_kind="dns",
            )
        )
        await progress("planned", f"{request.target}: {error}; nothing was probed")
        return Evidence(
            source="live",
            request=request,
            target=ev,
            started_at=started,
            duration_s=round(time.monotonic() - t_start, 3),
        )

    async def snapshot(self, host: Host, *, counters: bool = True, extra_sysctls: Sequence[str] = ()) -> HostEvidence:
        """One host's sysctls, facts, listeners and (optionally) counters: `whycant probe`, drift."""
        ev = HostEvidence(host=host.name, address=host.address)
        hp = HostProbe(host, self.transports.for_host(host), self.s, ev)
        first = [hp.counters("counters_t0")] if counters else [hp.facts()]
        await asyncio.gather(*first)
        rest = [hp.sysctls(extra_sysctls), hp.listeners()] + ([hp.facts()] if counters else [])
        await asyncio.gather(*rest)
        return ev
