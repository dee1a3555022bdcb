"""Drift collection's round trips (docs/sweep-speed.md): the known reads in one step, each file read once,
a repeat sweep in one step, and the same evidence either way."""

from __future__ import annotations

from bot.drift.collect import FleetCollector, sysctl_dirs
from probes.collect import FACT_FILES, ProbeSettings, TransportSet
from probes.inventory import Host
from probes.parsers.sysctl import sysctl_proc_path
from probes.transports.replay import ReplayTransport
from tests.drift.helpers import host_recording

H = Host(name="h1", address="198.18.0.1")
CONF = {
    "/etc/sysctl.conf": "net.core.somaxconn = 1024\n",
    "/etc/sysctl.d/90-web.conf": "vm.swappiness = 10\nkernel.pid_max = 65536\n",
}


def recording(conf: dict[str, str]) -> dict:
    rec = host_recording({"net.core.somaxconn": 4096, "vm.swappiness": 60, "kernel.pid_max": 4194304}, conf=conf)
    return {"h1": rec}


def reads(t: ReplayTransport) -> list[list[str]]:
    return [c.split(":", 1)[1].split(",") for _, c in t.calls if c.startswith("read:")]


def evidence_view(r) -> dict:
    ev = r.evidence
    return {
        "sysctls": ev.sysctls,
        "facts": ev.facts,
        "persisted": r.persisted,
        "problems": r.problems,
        "unreadable": ev.unreadable,
        "probes": [(p.probe, p.command, p.error) for p in ev.probes],
    }


async def sweep(t: ReplayTransport, plans: dict | None) -> object:
    fc = FleetCollector(TransportSet(ssh=t), ProbeSettings(command_timeout=5), read_plans=plans)
    (res,) = await fc.collect([H])
    return res


async def test_first_sweep_reads_every_known_path_in_one_step_and_each_file_once():
    t = ReplayTransport(recording(CONF))
    plans: dict = {}
    res = await sweep(t, plans)
    assert res.ok and res.persisted["vm.swappiness"] == (10, "/etc/sysctl.d/90-web.conf")
    assert res.evidence.sysctls["vm.swappiness"] == 60  # a key only the files name: running value read too
    first, *rest = reads(t)
    assert set(FACT_FILES.values()) <= set(first) and "/etc/sysctl.conf" in first
    assert sysctl_proc_path("net.core.somaxconn") in first
    assert [c for _, c in t.calls if c.startswith("list:")] == ["list:" + ",".join(sysctl_dirs())]
    extra = {sysctl_proc_path("kernel.pid_max"), sysctl_proc_path("vm.swappiness")}
    assert [set(batch) for batch in rest] == [{"/etc/sysctl.d/90-web.conf"}, extra]
    every = [p for batch in reads(t) for p in batch]
    assert len(every) == len(set(every))  # facts and sysctls share kernel/osrelease etc.: read once
    assert plans["h1"][0] == "/etc/sysctl.d/90-web.conf" and set(plans["h1"][1:]) == extra


async def test_repeat_sweep_is_one_step_with_the_same_evidence():
    plans: dict = {}
    first = await sweep(ReplayTransport(recording(CONF)), plans)
    t = ReplayTransport(recording(CONF))
    again = await sweep(t, plans)
    assert len(t.calls) == 2  # one read and one listing, together
    assert evidence_view(again) == evidence_view(first)
    assert evidence_view(again) == evidence_view(await sweep(ReplayTransport(recording(CONF)), None))


async def test_a_plan_that_no_longer_holds_is_only_a_speculation():
    plans: dict = {}
    await sweep(ReplayTransport(recording(CONF)), plans)
    changed = {
        "/etc/sysctl.conf": "net.core.somaxconn = 1024\n",
        "/etc/sysctl.d/80-new.conf": "net.ipv4.tcp_fin_timeout = 30\n",
    }  # 90-web.conf removed
    t = ReplayTransport(recording(changed))
    res = await sweep(t, plans)
    assert set(res.persisted) == {"net.core.somaxconn", "net.ipv4.tcp_fin_timeout"}  # nothing of 90-web.conf
    assert "vm.swappiness" not in res.evidence.sysctls  # read on speculation, not used
    assert evidence_view(res) == evidence_view(await sweep(ReplayTransport(recording(changed)), None))
    assert plans["h1"] == ["/etc/sysctl.d/80-new.conf"]  # the removed file and its keys leave the plan


async def test_an_unreachable_host_is_tried_once_and_named():
    t = ReplayTransport({"h1": {"unreachable": "connection refused"}})
    res = await sweep(t, {})
    assert not res.ok and "connection refused" in res.error
    assert len(t.calls) == 2  # the one batch (read + listing); no probe retried it


async def test_a_first_sweep_guesses_from_the_host_before_it():
    """Hosts without a plan of their own read the files the previous host of the sweep listed, in the first
    step: a fleet of alike hosts is one step per host after the first, with the evidence unchanged."""
    hosts = [Host(name=f"h{i}", address=f"198.18.0.{i}") for i in (1, 2, 3)]
    other = {
        "/etc/sysctl.conf": "net.core.somaxconn = 1024\n",
        "/etc/sysctl.d/80-new.conf": "net.ipv4.tcp_fin_timeout = 30\n",
    }
    rec = recording(CONF)["h1"]
    t = ReplayTransport({"h1": rec, "h2": rec, "h3": recording(other)["h1"]})
    fc = FleetCollector(TransportSet(ssh=t), ProbeSettings(command_timeout=5), concurrency=1, read_plans={})
    got = await fc.collect(hosts)
    steps = {h.name: sum(1 for host, c in t.calls if host == h.name and c.startswith("read:")) for h in hosts}
    # h3's files differ: the guess is read and not used, then its own file (its key is a default one)
    assert steps == {"h1": 3, "h2": 1, "h3": 2}
    alone = [await sweep(ReplayTransport({"h1": r}), None) for r in (rec, rec, recording(other)["h1"])]
    assert [evidence_view(r) for r in got] == [evidence_view(r) for r in alone]
    assert "vm.swappiness" not in got[2].evidence.sysctls  # h1's key, read on speculation for h3, not used
