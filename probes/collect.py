"""Run the probes of one diagnosis in parallel and assemble the Evidence.

Plan (docs/architecture.md §Data flow): target counters T0 -> connect tests from every vantage (and
sysctls, listeners, facts meanwhile) -> target counters T1 once the window has
passed -> listeners again. A failed probe is recorded and never hides the others.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Sequence

from probes.connect import connect_argv, local_connect, parse_attempts
from probes.dial_address import DNS_TIMEOUT_S, ResolveFailed, resolve_address, self_dial_address
from probes.drop_reasons import DropWindow
from probes.connect_batch import ConnectBatcher
from probes.errors import CommandTimeout, ParseError, TransportError, UnsupportedHost, WhycantError
from probes.evidence import ConnectResult, Evidence, Facts, HostEvidence, Listener, ProbeRecord, Request
from probes.inventory import Host
from probes.limits import BudgetExceeded, LimitedTransport, TargetLimiter
from probes.parsers import counters as pc
from probes.parsers import facts as pf
from probes.parsers import softnet as psn
from probes.parsers import ss as pss
from probes.parsers import sysctl as psys
from probes.sysctl_keys import keys_for
from probes.transports.base import CommandResult, Transport

log = logging.getLogger("whycant.probes")

COUNTER_FILES = ("/proc/net/netstat", "/proc/net/snmp", "/proc/net/snmp6", "/proc/net/softnet_stat",
                 "/proc/net/stat/arp_cache", "/proc/net/stat/ndisc_cache")
FACT_FILES = {
    "ostype": "/proc/sys/kernel/ostype",
    "osrelease": "/proc/sys/kernel/osrelease",
    "meminfo": "/proc/meminfo",
    "os_release": "/etc/os-release",
    "cpus": "/sys/devices/system/cpu/online",
    "ct_count": "/proc/sys/net/netfilter/nf_conntrack_count",
    "ct_max": "/proc/sys/net/netfilter/nf_conntrack_max",
    "ct_stat": "/proc/net/stat/nf_conntrack",
    "port_range": "/proc/sys/net/ipv4/ip_local_port_range",
    "sockstat": "/proc/net/sockstat",
}

ProgressFn = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class VantagePoint:
    name: str
    host: Host
    nat: bool = False
    note: str | None = None


@dataclass(frozen=True)
class ProbeSettings:
    window_seconds: float = 5.0
    connect_attempts: int = 10
    connect_timeout: float = 2.0
    connect_interval: float = 0.1
    command_timeout: float = 15.0
    dns_timeout: float = DNS_TIMEOUT_S
    drop_reasons: bool = True  # trace kfree_skb drop reasons on the target (probes/drop_reasons.py)
    sudo: bool = False  # ssh.sudo: root-only commands run with sudo -n


class TransportSet:
    """Picks the transport for a host: local for the bot's own host, SSH otherwise."""

    def __init__(self, ssh: Transport | None = None, local: Transport | None = None,
                 overrides: dict[str, Transport] | None = None):
        from probes.transports.local import LocalTransport

        self.ssh = ssh
        self.local = local or LocalTransport()
        self.overrides = overrides or {}
        self.limiter: TargetLimiter | None = None  # set: every transport handed out honours its channel caps

    def for_host(self, host: Host) -> Transport:
        t = self._for_host(host)
        return LimitedTransport(t, self.limiter) if self.limiter is not None else t

    def _for_host(self, host: Host) -> Transport:
        if host.name in self.overrides:
            return self.overrides[host.name]
        if host.is_local:
            return self.local
        if self.ssh is None:
            raise TransportError(host.name, "SSH transport is not configured")
        return self.ssh

    async def close(self) -> None:
        for t in {id(t): t for t in [self.ssh, self.local, *self.overrides.values()] if t}.values():
            await t.close()


def _cpu_count(text: str) -> int:
    n = 0
    for part in text.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            n += int(hi) - int(lo) + 1
        elif part:
            n += 1
    if n <= 0:
        raise ParseError("facts", f"cannot read CPU count from {text.strip()!r}")
    return n


class HostProbe:
    """The probes of one host, each recorded in ``evidence.probes``."""

    def __init__(self, host: Host, transport: Transport, settings: ProbeSettings, ev: HostEvidence):
        self.host, self.t, self.s, self.ev = host, transport, settings, ev
        self.unreachable: TransportError | None = None
        self.unsupported: UnsupportedHost | None = None

    async def _record(self, probe: str, command: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        start = time.monotonic()
        rec = ProbeRecord(host=self.host.name, probe=probe, command=command)
        if self.unreachable is not None and probe != "counters_t0":
            rec.error, rec.error_kind = f"skipped: {self.unreachable.message}", self.unreachable.kind
            self.ev.probes.append(rec)
            return None
        if self.unsupported is not None:
            rec.error, rec.error_kind = f"unsupported: {self.unsupported}", "unsupported"
            self.ev.probes.append(rec)
            return None
        try:
            return await fn()
        except TransportError as e:
            rec.error, rec.error_kind = f"{e.kind}: {e.message}", e.kind
            if not isinstance(e, CommandTimeout):
                self.unreachable = e
        except UnsupportedHost as e:
            rec.error, rec.error_kind = f"unsupported: {e}", "unsupported"
            self.unsupported = e
        except ParseError as e:
            rec.error, rec.error_kind = str(e.on_host(self.host.name)), "parse"
        except WhycantError as e:
            rec.error, rec.error_kind = str(e), "error"
        except Exception as e:  # noqa: BLE001 - a probe bug must not hide the other probes
            log.exception("probe %s on %s failed", probe, self.host.name)
            rec.error, rec.error_kind = f"internal error: {type(e).__name__}: {e}", "internal"
        finally:
            rec.duration_s = round(time.monotonic() - start, 4)
            self.ev.probes.append(rec)
        return None

    async def _read(self, paths: Sequence[str]) -> dict[str, str | None]:
        files = await self.t.read_files(self.host, list(paths), timeout=self.s.command_timeout)
        self.ev.file_access = getattr(files, "access", None) or self.ev.file_access
        self.ev.unreadable.update(getattr(files, "unreadable", None) or {})
        return files

    async def _run(self, argv: list[str], probe: str) -> CommandResult:
        res = await self.t.run(self.host, argv, timeout=self.s.command_timeout)
        if res.truncated:
            note = f"{probe}: output of `{res.command}` truncated at the output cap ({len(res.stdout)} bytes kept)"
            if note not in self.ev.notes:
                self.ev.notes.append(note)
        return res

    async def counters(self, which: str) -> dict[str, int] | None:
        async def go() -> dict[str, int]:
            files = await self._read(COUNTER_FILES)
            if files.get("/proc/net/netstat") is None and files.get("/proc/net/snmp") is None:
                await self._check_linux()
                raise ParseError(which, "neither /proc/net/netstat nor /proc/net/snmp could be read")
            out: dict[str, int] = {}
            for path, probe in (("/proc/net/snmp", "proc-net-snmp"), ("/proc/net/netstat", "proc-net-netstat")):
                if files.get(path) is not None:
                    out.update(pc.parse_proc_netstat(files[path] or "", probe=probe))
            if files.get("/proc/net/snmp6"):
                out.update(pc.parse_snmp6(files["/proc/net/snmp6"] or ""))
            if files.get("/proc/net/softnet_stat"):
                out.update(psn.parse_softnet_stat(files["/proc/net/softnet_stat"] or ""))
            for path, group in (("/proc/net/stat/arp_cache", "ArpCache"), ("/proc/net/stat/ndisc_cache", "Ndisc")):
                if files.get(path):
                    out.update(psn.parse_neigh_cache_stat(files[path] or "", group, probe=path))
            return out

        at = time.time()
        result = await self._record(which, "read " + " ".join(COUNTER_FILES), go)
        if result is not None:
            setattr(self.ev, which, result)
            setattr(self.ev, "t0_at" if which == "counters_t0" else "t1_at", at)
        return result

    async def _check_linux(self) -> None:
        res = await self.t.run(self.host, ["uname", "-s"], timeout=self.s.command_timeout)
        name = res.stdout.strip() or "unknown"
        if name != "Linux":
            raise UnsupportedHost(f"{self.host.name} runs {name}, not Linux: whycant reads /proc/net, which it lacks")

    async def sysctls(self, extra_keys: Sequence[str] = ()) -> None:
        keys = keys_for(list(extra_keys))

        async def go() -> dict:
            paths = {psys.sysctl_proc_path(k): k for k in keys}
            files = await self._read(list(paths))
            out: dict = {}
            for path, text in files.items():
                if text is not None and text.strip() != "":
                    out[paths[path]] = psys.parse_value(text.strip())
            if not out:
                await self._check_linux()
                raise ParseError("sysctls", "no sysctl under /proc/sys could be read")
            return out

        res = await self._record("sysctls", f"read {len(keys)} files under /proc/sys", go)
        if res is not None:
            self.ev.sysctls = res

    async def listeners(self) -> None:
        async def go() -> list[Listener]:
            res = await self._run(["ss", "-ltnH"], "listeners")
            if res.exit_status == 127:
                res = await self.t.run(self.host, ["netstat", "-lnt"], timeout=self.s.command_timeout)
                if res.exit_status != 0:
                    await self._check_linux()
                    raise ParseError("listeners", "neither ss nor netstat is available")
                return pss.parse_netstat_listen(res.stdout)
            if res.exit_status != 0 and not res.truncated:
                raise ParseError("listeners", f"ss exited {res.exit_status}: {res.stderr.strip()[:200]}")
            return pss.parse_ss_listen(res.stdout)

        got = await self._record("listeners", "ss -ltnH", go)
        if got is None:
            return
        if self.ev.listeners is None:
            self.ev.listeners = got
            return
        # A second sample: keep the fuller accept queue seen for each socket.
        merged = {(lst.local_address, lst.port): lst for lst in self.ev.listeners}
        for lst in got:
            key = (lst.local_address, lst.port)
            if key not in merged or lst.recv_q > merged[key].recv_q:
                merged[key] = lst
        self.ev.listeners = list(merged.values())

    async def facts(self) -> None:
        async def go() -> Facts:
            f = await self._read(list(FACT_FILES.values()))
            got = {k: f.get(p) for k, p in FACT_FILES.items()}
            if got["ostype"] is None:
                await self._check_linux()
            facts = Facts(os=(got["ostype"] or "Linux").strip(), kernel_release=(got["osrelease"] or "").strip() or None)
            if got["meminfo"]:
                facts.mem_total_kb = pf.parse_meminfo(got["meminfo"])
            if got["os_release"]:
                facts.distro = pf.parse_os_release(got["os_release"])
            if got["cpus"]:
                facts.cpus = _cpu_count(got["cpus"])
            if got["ct_count"]:
                facts.conntrack_count = pf.parse_int_file(got["ct_count"], "nf_conntrack_count")
            if got["ct_max"]:
                facts.conntrack_max = pf.parse_int_file(got["ct_max"], "nf_conntrack_max")
            if got["ct_stat"]:
                facts.conntrack_stats = pf.parse_nf_conntrack_stat(got["ct_stat"])
            if got["port_range"]:
                facts.ip_local_port_range = pf.parse_port_range(got["port_range"])
            if got["sockstat"]:
                self.ev.sockstat = pf.parse_sockstat(got["sockstat"])
            return facts

        res = await self._record("facts", "read " + " ".join(FACT_FILES.values()), go)
        if res is not None:
            self.ev.facts = res


class Collector:
    """Collects evidence for diagnoses (``collect``) and single-host snapshots (``snapshot``)."""

    def __init__(self, transports: TransportSet, settings: ProbeSettings, limiter: TargetLimiter | None = None,
                 batch_window: float = 0.0):
        self.transports, self.s, self.limiter = transports, settings, limiter
        self.batcher = ConnectBatcher(batch_window) if batch_window > 0 else None

    async def connect_from(self, v: VantagePoint, address: str, port: int) -> ConnectResult:
        s = self.s
        res = ConnectResult(vantage=v.name, vantage_host=v.host.name, target_address=address, port=port,
                            nat=v.nat, note=v.note)
        start = time.monotonic()
        try:
            if v.host.is_local and v.host.name not in self.transports.overrides:
                res.runner = "local"
                res.attempts = await local_connect(address, port, s.connect_attempts, s.connect_timeout,
                                                   s.connect_interval)
            else:
                t = self.transports.for_host(v.host)
                budget = s.connect_timeout + s.connect_attempts * s.connect_interval + s.command_timeout
                from probes.connect import PY_SCRIPT

                argv = connect_argv("python3", address, port, s.connect_attempts, s.connect_timeout,
                                    s.connect_interval)
                if self.batcher is not None:  # many diagnoses at once: one process per vantage
                    out = await self.batcher.run(t, v.host, address, port, attempts=s.connect_attempts,
                                                 timeout=s.connect_timeout, interval=s.connect_interval, budget=budget)
                else:
                    out = await t.run(v.host, argv, timeout=budget, stdin=PY_SCRIPT)
                res.runner = "python3"
                if out.exit_status == 127:
                    argv = connect_argv("bash", address, port, s.connect_attempts, s.connect_timeout,
                                        s.connect_interval)
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
        drops = DropWindow(sudo=s.sudo, command_timeout=s.command_timeout, max_s=int(
            s.window_seconds + s.connect_attempts * (s.connect_timeout + s.connect_interval) + 4 * s.command_timeout + 30))
        try:
            return await self._collect(request, target, vantages, drops, on_progress, extra_sysctls, self_vantage)
        finally:  # also when the diagnosis fails or is cancelled (timeout): remove the tracing instance
            await drops.abort()

    async def _collect(self, request: Request, target: Host, vantages: Sequence[VantagePoint], drops: DropWindow,
                       on_progress: ProgressFn | None, extra_sysctls: Sequence[str], self_vantage: bool) -> Evidence:
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
        evidence = Evidence(source="live", request=request, target=ev if probe_target else None,
                            started_at=started)
        await progress("planned", f"probing {target.name}" + (f":{request.port}" if request.port else "")
                       + (f" from {', '.join(v.name for v in vantages)}" if vantages and request.port else ""))

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
                detail = ", ".join(f"{r.count(o)} {o}" for o in ("refused", "timeout", "reset", "unreachable",
                                                                  "addr_not_avail", "error") if r.count(o))
                await progress("connect", f"{v.name}: {r.count('ok')}/{len(r.attempts)} connected"
                               + (f", {detail}" if detail else ""), vantage=v.name,
                               done=r.count("ok"), total=len(r.attempts))
            return r

        tasks: list[Awaitable[Any]] = []
        vps = list(vantages)
        if request.port and hp is not None and self_vantage and hp.unreachable is None and not target.is_local:
            vps.append(VantagePoint("self", target, note="the target itself, over loopback"))
        if request.port:
            port = request.port
            tasks.append(self._limited_connects(target, request, vps, lambda: asyncio.gather(*(
                one_vantage(v) if v.name != "self" else self._self_connect(v, port, ev, dial) for v in vps
            ))))
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
            await progress("counters_t1", f"{target.name}: counters sampled again after "
                           f"{ev.window_s or 0:.1f} s")
        evidence.duration_s = round(time.monotonic() - t_start, 3)
        return evidence

    async def _limited_connects(self, target: Host, request: Request, vps: Sequence[VantagePoint],
                                run: Callable[[], Awaitable[Sequence[ConnectResult]]]) -> list[ConnectResult]:
        """The connect phase inside the limiter's per-target SYN budget (probes/limits.py); when the
        budget is used up, every vantage's test is reported as not run, naming the limit."""
        if self.limiter is None or not request.port:
            return list(await run())
        try:
            async with self.limiter.connect_budget(target.name, request.port, len(vps) * self.s.connect_attempts):
                return list(await run())
        except BudgetExceeded as e:
            return [ConnectResult(vantage=v.name, vantage_host=v.host.name, port=request.port, nat=v.nat, note=v.note,
                                  target_address="127.0.0.1" if v.name == "self" else request.address,
                                  error=f"rate-limited: not run: {e}", error_kind="rate-limited") for v in vps]

    async def _self_connect(self, v: VantagePoint, port: int, ev: HostEvidence, dial: str) -> ConnectResult:
        """The target dials what it listens on: loopback for wildcard sockets, else its bound address."""
        address = self_dial_address(ev.listeners, port, own=[dial, v.host.address])
        if address not in ("127.0.0.1", "::1"):
            v = replace(v, note=f"the target itself, to the address it listens on ({address})")
        return await self.connect_from(v, address, port)

    async def _unresolved(self, request: Request, ev: HostEvidence, error: ResolveFailed, started: float,
                          t_start: float, progress: Callable[..., Awaitable[None]]) -> Evidence:
        """Evidence for a target whose DNS name did not resolve: one clear error, nothing probed."""
        ev.probes.append(ProbeRecord(host=ev.host, probe="resolve", command=f"getaddrinfo {request.address}",
                                     error=f"dns: {error}", error_kind="dns"))
        await progress("planned", f"{request.target}: {error}; nothing was probed")
        return Evidence(source="live", request=request, target=ev, started_at=started,
                        duration_s=round(time.monotonic() - t_start, 3))

    async def snapshot(self, host: Host, *, counters: bool = True, extra_sysctls: Sequence[str] = ()) -> HostEvidence:
        """One host's sysctls, facts, listeners and (optionally) counters: `whycant probe`, drift."""
        ev = HostEvidence(host=host.name, address=host.address)
        hp = HostProbe(host, self.transports.for_host(host), self.s, ev)
        first = [hp.counters("counters_t0")] if counters else [hp.facts()]
        await asyncio.gather(*first)
        rest = [hp.sysctls(extra_sysctls), hp.listeners()] + ([hp.facts()] if counters else [])
        await asyncio.gather(*rest)
        return ev
