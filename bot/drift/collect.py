"""Fleet collection for drift: sysctls, facts and the persisted sysctl configuration of every
selected host, in parallel over the probe transports.

Per host (under a global ``asyncio.Semaphore`` and a per-host timeout), every read whose path is
known up front goes out in one pipelined step (:class:`probes.transports.prefetch.PrefetchedTransport`:
facts, sysctls, ``/etc/sysctl.conf``, the directory listing and, on a repeat sweep by the same
service, the files and keys this host's persisted configuration named last time); the probes below
are then answered from it and read only what it lacks, each file once:

* facts and the running sysctls (the default keys, the rules' keys and the host's baseline
  keys), through :class:`probes.collect.HostProbe` (no listeners, no counters: drift does not
  need them);
* the persisted configuration: ``transport.list_dir`` lists ``*.conf`` in the systemd-sysctl
  directories (SFTP over SSH, else the transport's fixed exec reader: no shell text), then ``/etc/sysctl.conf`` and those files are read with
  ``transport.read_files``; merged with systemd-sysctl precedence
  (:func:`probes.parsers.sysctl.merge_sysctl_files`);
* the running values of keys only the files name, in one more read of ``/proc/sys``.

An unreachable host is a :class:`HostResult` with ``error`` set, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from probes.collect import FACT_FILES, HostProbe, ProbeSettings
from probes.errors import ParseError, TransportError
from probes.evidence import HostEvidence, ProbeRecord
from probes.inventory import Host
from probes.parsers import sysctl as psys
from probes.parsers.sysctl import SYSCTL_CONF, SYSCTL_DIRS, merge_sysctl_files, parse_sysctl_conf
from probes.sysctl_keys import keys_for
from probes.transports.prefetch import PrefetchedTransport

log = logging.getLogger("whycant.drift")

MAX_CONF_FILES = 256
MAX_PLANNED_PATHS = MAX_CONF_FILES + 512  # conf files + running values of the keys only they name
DEFAULT_CONCURRENCY = 50
DEFAULT_HOST_TIMEOUT = 30.0


def sysctl_dirs() -> tuple[str, ...]:
    return SYSCTL_DIRS


@dataclass
class HostResult:
    host: Host
    evidence: HostEvidence
    persisted: dict[str, tuple[Any, str]] | None = None  # key -> (value, source file)
    error: str | None = None  # the host could not be collected at all
    error_kind: str | None = None
    duration_s: float = 0.0
    problems: list[dict] = field(default_factory=list)  # partial failures (one probe, one file)

    @property
    def ok(self) -> bool:
        return self.error is None


def conf_paths(listing: dict[str, list[str] | None]) -> list[str]:
    """``DIR/NAME.conf`` paths from :meth:`Transport.list_dir` output: plain names ending in ``.conf`` (no hidden
    files, no path separators), sorted, at most ``MAX_CONF_FILES``."""
    out = sorted(
        {
            posixpath.join(d, name)
            for d in sysctl_dirs()
            for name in (listing.get(d) or [])
            if name.endswith(".conf")
            and not name.startswith(".")
            and "/" not in name
            and "\n" not in name
            and "\x00" not in name
        }
    )
    return out[:MAX_CONF_FILES]


async def list_conf_files(host: Host, transport: Any, timeout: float) -> list[str]:
    """The ``*.conf`` files in the systemd-sysctl directories, as the transport lists them (SFTP, or the fixed
    exec reader on hosts without SFTP: probes/transports/ssh_files.py)."""
    return conf_paths(await transport.list_dir(host, list(sysctl_dirs()), timeout=timeout))


async def read_persisted(host: Host, transport: Any, timeout: float) -> tuple[dict[str, tuple[Any, str]], list[dict]]:
    """What the sysctl files will apply at the next boot: key -> (value, source), and file problems."""
    paths = [SYSCTL_CONF, *await list_conf_files(host, transport, timeout)]
    files = await transport.read_files(host, paths, timeout=timeout)
    good: dict[str, str] = {}
    problems: list[dict] = []
    unreadable = getattr(files, "unreadable", None) or {}
    for path in paths:
        text = files.get(path)
        if text is None:
            if path in unreadable:  # exists but the probe user cannot read it: say so (docs/ssh.md)
                problems.append(
                    {
                        "host": host.name,
                        "probe": "persisted_sysctls",
                        "error": f"{path}: {unreadable[path]}",
                        "kind": "unreadable",
                    }
                )
            continue
        try:
            parse_sysctl_conf(text, source=path)
        except ParseError as e:
            problems.append({"host": host.name, "probe": "persisted_sysctls", "error": str(e), "kind": "parse"})
            continue
        good[path] = text
    return merge_sysctl_files(good), problems


class FleetCollector:
    """Collects drift inputs from many hosts with bounded concurrency and per-host timeouts."""

    def __init__(
        self,
        transports: Any,
        settings: Any = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        host_timeout: float = DEFAULT_HOST_TIMEOUT,
        persisted: bool = True,
        read_plans: dict[str, list[str]] | None = None,
    ):
        self.transports = transports
        # host name -> the extra paths its last sweep read (conf files, keys only they name):
        # read with the first step next time (a speculation: only what the host names now is used)
        self.read_plans = read_plans
        # the plan of the last host this sweep finished: the guess for a host without a plan of its own (a
        # fleet's hosts mostly share their sysctl files, so a first sweep needs one step on most of them)
        self.sibling_plan: list[str] = []
        self.settings = settings or ProbeSettings()
        self.concurrency = max(1, int(concurrency))
        self.host_timeout = host_timeout
        self.persisted = persisted

    async def collect(
        self, hosts: Sequence[Host], keys_for_host: Callable[[Host], Sequence[str]] | None = None
    ) -> list[HostResult]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(h: Host) -> HostResult:
            async with sem:
                return await self.collect_host(h, list(keys_for_host(h)) if keys_for_host else [])

        return list(await asyncio.gather(*(one(h) for h in hosts)))

    async def collect_host(self, host: Host, extra_keys: Sequence[str] = ()) -> HostResult:
        start = time.monotonic()
        ev = HostEvidence(host=host.name, address=host.address)
        result = HostResult(host=host, evidence=ev)
        try:
            await asyncio.wait_for(self._collect(host, extra_keys, result), self.host_timeout)
        except asyncio.TimeoutError:
            result.error = f"no answer within {self.host_timeout:g} s"
            result.error_kind = "timeout"
        except Exception as e:  # noqa: BLE001 - one host's failure never stops the sweep
            log.exception("drift collection on %s failed", host.name)
            result.error, result.error_kind = f"internal error: {type(e).__name__}: {e}", "internal"
        result.duration_s = round(time.monotonic() - start, 4)
        if result.error is None:
            self._classify(result)
        return result

    async def _collect(self, host: Host, extra_keys: Sequence[str], result: HostResult) -> None:
        if getattr(host, "adhoc", False) or not getattr(host, "probe_ssh", True):
            result.error, result.error_kind = "not an inventory host with SSH access", "unsupported"
            return
        try:
            inner = self.transports.for_host(host)
        except TransportError as e:
            result.error, result.error_kind = f"{e.kind}: {e.message}", e.kind
            return
        ev = result.evidence
        timeout = self.settings.command_timeout
        transport = PrefetchedTransport(inner)
        base = [*FACT_FILES.values(), *(psys.sysctl_proc_path(k) for k in keys_for(list(extra_keys)))]
        planned: list[str] = []
        if self.persisted:
            base.append(SYSCTL_CONF)
            own = (self.read_plans or {}).get(host.name)
            planned = own if own is not None else self.sibling_plan
        await transport.prefetch(host, base + planned, sysctl_dirs() if self.persisted else (), timeout=timeout)
        hp = HostProbe(host, transport, self.settings, ev)

        async def persisted() -> None:
            async def go() -> dict[str, tuple[Any, str]]:
                merged, problems = await read_persisted(host, transport, timeout)
                result.problems.extend(problems)
                return merged

            merged = await hp.record("persisted_sysctls", "list " + " ".join(sysctl_dirs()) + " + read *.conf", go)
            if merged is not None:
                result.persisted = merged
                ev.persisted_sysctls = {k: v for k, (v, _src) in merged.items()}

        tasks = [hp.facts(), hp.sysctls(list(extra_keys))]
        if self.persisted:
            tasks.append(persisted())
        await asyncio.gather(*tasks)

        # Keys only the files name: read their running values too (one more read).
        extra_paths: list[str] = []
        if result.persisted and ev.sysctls is not None and hp.unreachable is None:
            want = [k for k in result.persisted if "*" not in k and k not in ev.sysctls]
            want = [k for k in want if psys.normalize_key(k) == k][:512]
            if want:
                paths = {psys.sysctl_proc_path(k): k for k in want}
                extra_paths = list(paths)

                async def extra() -> dict:
                    files = await transport.read_files(host, list(paths), timeout=timeout)
                    return {
                        paths[p]: psys.parse_value(t.strip())
                        for p, t in files.items()
                        if t is not None and t.strip() != ""
                    }

                got = await hp.record("sysctls", f"read {len(paths)} files under /proc/sys (persisted keys)", extra)
                if got:
                    ev.sysctls.update(got)
        if result.persisted is not None:
            listed = await list_conf_files(host, transport, timeout)  # answered from the batch: no I/O
            fixed = set(base)
            plan = [p for p in listed + extra_paths if p not in fixed][:MAX_PLANNED_PATHS]
            if self.read_plans is not None:
                self.read_plans[host.name] = plan
            if plan:
                self.sibling_plan = plan

    @staticmethod
    def _classify(result: HostResult) -> None:
        ev = result.evidence
        failed: list[ProbeRecord] = ev.errors()
        transport_fail = next(
            (
                p
                for p in failed
                if p.error_kind
                in ("connect", "auth", "host-key", "host-key-revoked", "jump-host", "ssh-config", "transport", "ssh")
            ),
            None,
        )
        if ev.sysctls is None and transport_fail is not None:
            result.error, result.error_kind = transport_fail.error, transport_fail.error_kind
            return
        if ev.sysctls is None and ev.facts is None:
            first = failed[0] if failed else None
            result.error = first.error if first else "nothing could be collected"
            result.error_kind = first.error_kind if first else "error"
            return
        for p in failed:
            result.problems.append({"host": p.host, "probe": p.probe, "error": p.error, "kind": p.error_kind})
        for path, why in ev.unreadable.items():  # read but refused: never shown as absent
            result.problems.append({"host": ev.host, "probe": "read", "error": f"{path}: {why}", "kind": "unreadable"})
