"""The probes of one host: counters, sysctls, listeners, facts, each recorded in ``evidence.probes``.

Files are read through the transport's ``read_files`` (no shell); a probe that fails is recorded
with its error kind and never hides the others; an unreachable host skips the probes after the
first, a non-Linux host is reported as unsupported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from probes.dial_address import DNS_TIMEOUT_S
from probes.errors import CommandTimeout, ParseError, TransportError, UnsupportedHost, WhycantError
from probes.evidence import Facts, HostEvidence, Listener, ProbeRecord
from probes.inventory import Host
from probes.parsers import counters as pc
from probes.parsers import facts as pf
from probes.parsers import softnet as psn
from probes.parsers import ss as pss
from probes.parsers import sysctl as psys
from probes.sysctl_keys import keys_for
from probes.transports.base import CommandResult, Transport

log = logging.getLogger("whycant.probes")

COUNTER_FILES = (
    "/proc/net/netstat",
    "/proc/net/snmp",
    "/proc/net/snmp6",
    "/proc/net/softnet_stat",
    "/proc/net/stat/arp_cache",
    "/proc/net/stat/ndisc_cache",
)
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


class HostProbe:
    """The probes of one host, each recorded in ``evidence.probes``."""

    def __init__(self, host: Host, transport: Transport, settings: ProbeSettings, ev: HostEvidence):
        self.host, self.t, self.s, self.ev = host, transport, settings, ev
        self.unreachable: TransportError | None = None
        self.unsupported: UnsupportedHost | None = None

    async def record(self, probe: str, command: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run probe *fn* and record it (duration, error and its kind); None when it failed or was skipped."""
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
        result = await self.record(which, "read " + " ".join(COUNTER_FILES), go)
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

        res = await self.record("sysctls", f"read {len(keys)} files under /proc/sys", go)
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

        got = await self.record("listeners", "ss -ltnH", go)
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
            facts = Facts(
                os=(got["ostype"] or "Linux").strip(), kernel_release=(got["osrelease"] or "").strip() or None
            )
            if got["meminfo"]:
                facts.mem_total_kb = pf.parse_meminfo(got["meminfo"])
            if got["os_release"]:
                facts.distro = pf.parse_os_release(got["os_release"])
            if got["cpus"]:
                facts.cpus = pf.parse_cpu_list(got["cpus"])
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

        res = await self.record("facts", "read " + " ".join(FACT_FILES.values()), go)
        if res is not None:
            self.ev.facts = res
