"""Collection over recorded hosts: every failed probe is reported, none hides the others,
and a diagnosis over partial evidence says it is partial."""

from __future__ import annotations

from pathlib import Path

from bot.engine import diagnose, load_rules
from probes.collect import Collector, ProbeSettings, TransportSet
from probes.evidence import Request
from probes.inventory import Host
from probes.transports.replay import ReplayTransport

CAPTURED = Path(__file__).resolve().parent.parent / "fixtures" / "captured"
DB01 = Host(name="db01", address="198.18.0.10")
SETTINGS = ProbeSettings(window_seconds=0, connect_attempts=2, connect_timeout=0.5, command_timeout=1)


def linux_recording(**overrides) -> dict:
    files = {
        "/proc/net/netstat": (CAPTURED / "debian12-kernel6.18-proc-net-netstat.txt").read_text(),
        "/proc/net/snmp": (CAPTURED / "debian12-kernel6.18-proc-net-snmp.txt").read_text(),
        "/proc/sys/kernel/ostype": "Linux\n",
        "/proc/sys/kernel/osrelease": "6.1.0-13-amd64\n",
        "/proc/meminfo": (CAPTURED / "debian12-kernel6.18-proc-meminfo.txt").read_text(),
        "/proc/sys/net/core/somaxconn": "4096\n",
    }
    commands = {"ss": {"stdout": (CAPTURED / "debian12-kernel6.18-ss-ltnH.txt").read_text()}}
    files.update(overrides.pop("files", {}))
    commands.update(overrides.pop("commands", {}))
    return {"db01": {"files": files, "commands": commands}}


async def collect(recording: dict):
    c = Collector(TransportSet(overrides={"db01": ReplayTransport(recording)}), SETTINGS)
    req = Request(text="t", target="db01", address=DB01.address)
    return await c.collect(req, DB01, [])


def errors_by_probe(ev) -> dict[str, str]:
    return {p.probe: p.error for p in ev.target.probes if p.error}


async def test_healthy_recording_has_no_errors():
    ev = await collect(linux_recording())
    assert errors_by_probe(ev) == {}
    assert ev.target.sysctls == {"net.core.somaxconn": 4096, "kernel.osrelease": "6.1.0-13-amd64"}
    assert ev.target.facts.kernel_release == "6.1.0-13-amd64"


async def test_non_linux_host_is_unsupported_not_a_crash():
    rec = {"db01": {"files": {}, "commands": {"uname": {"stdout": "FreeBSD\n"}}}}
    ev = await collect(rec)
    errs = errors_by_probe(ev)
    assert "runs FreeBSD, not Linux" in errs["counters_t0"]
    assert all("unsupported" in e or "FreeBSD" in e for e in errs.values())
    dx = diagnose(ev, load_rules())
    assert dx.partial and "partial" in dx.verdict.lower()


async def test_a_hanging_probe_is_a_timeout_and_the_others_still_return():
    ev = await collect(linux_recording(commands={"ss": {"hang": True}}))
    errs = errors_by_probe(ev)
    assert set(errs) == {"listeners"} and "timeout" in errs["listeners"]
    assert ev.target.counters_t0 and ev.target.sysctls and ev.target.facts


async def test_garbled_counters_name_the_probe_and_host():
    ev = await collect(linux_recording(files={"/proc/net/netstat": "TcpExt: SyncookiesSent\n<html>oops"}))
    errs = errors_by_probe(ev)
    assert errs["counters_t0"].startswith("proc-net-netstat on db01:")
    assert ev.target.listeners is not None  # the other probes are unaffected
    dx = diagnose(ev, load_rules())
    assert dx.partial and not dx.verdict.lower().startswith("no fault found on db01:") or "partial" in dx.verdict


async def test_unreachable_target_reports_every_probe_as_skipped_with_the_reason():
    ev = await collect({"db01": {"unreachable": "connect: Connection refused"}})
    errs = errors_by_probe(ev)
    assert "Connection refused" in errs["counters_t0"]
    assert all("Connection refused" in e for e in errs.values())
    assert ev.probe_errors() and ev.partial
