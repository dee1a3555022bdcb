"""Kernel drop reasons (skb:kfree_skb) against the lab: the target's own nftables drop,
a drop before the target, rp_filter on a multi-homed host, unavailability, and the
tracing instance removed after normal, failed, timed-out and abandoned runs.

Tracefs is global: other labs running at the same time add their drops to every trace,
so assertions are about this lab's addresses and attributions, never about totals.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import warnings

import pytest
import yaml

from bot.config import parse_config
from probes.collect import Collector, ProbeSettings, TransportSet, VantagePoint
from probes.drop_reasons import DropWindow
from probes.evidence import HostEvidence, Request
from probes.inventory import Host
from probes.transports.ssh import SSHTransport
from tests.lab.multihomed import add_fixed_host, multihomed, nft_drop_output

pytestmark = [pytest.mark.lab]

WHYCANT = [sys.executable, "-m", "bot.cli"]
PORT = 5477
INSTANCES = "/sys/kernel/tracing/instances"
FAST = ProbeSettings(window_seconds=1, connect_attempts=3, connect_timeout=0.5, command_timeout=15)


@pytest.fixture(scope="module")
def _drtgt(lab):
    """A lab host whose sshd sees tracefs (as a real host does), removed after the module.

    Tracing instances are global kernel objects, but the watchdog that would remove an
    abandoned one runs inside the host's namespace and dies with it: before the host goes,
    any instance these tests left behind is removed (and reported).
    """
    add_fixed_host(lab, "drtgt", 231)
    before = set(_instances_now(lab, "drtgt"))
    try:
        yield lab
    finally:
        left = sorted(set(_instances_now(lab, "drtgt")) - before)
        if left:
            _remove_instances(lab, "drtgt", left)
            warnings.warn(f"drop-reasons tests left tracing instances behind (removed): {left}", stacklevel=2)
        lab.remove_host("drtgt")


def _tracefs_sh(lab, host: str, script: str, *args: str) -> str:
    return lab.exec(host, "sh", "-c", "mount -t tracefs nodev /sys/kernel/tracing && " + script, "drtest", *args).stdout


def _instances_now(lab, host: str) -> list[str]:
    out = _tracefs_sh(lab, host, "ls /sys/kernel/tracing/instances")
    return [n for n in out.split() if n.startswith("whycant-")]


def _remove_instances(lab, host: str, names: list[str]) -> None:
    for n in names:
        _tracefs_sh(
            lab,
            host,
            "I=/sys/kernel/tracing/instances/$1; for e in $I/events/*/*/enable; do "
            'echo 0 > "$e"; done 2>/dev/null; rmdir "$I"',
            n,
        )


@pytest.fixture
def traced(_drtgt, clean_lab):
    return clean_lab


@pytest.fixture
def ask(clean_lab, tmp_path):
    def run(question: str) -> dict:
        cfg = clean_lab.whycant_config()
        cfg["database"] = f"sqlite:///{tmp_path}/w.db"
        cfg["vantages"]["office"]["nat"] = False
        cfg["probe"] = {"window_seconds": 1, "connect_attempts": 3, "connect_timeout": 0.5}
        cfg["ssh"].update(connect_timeout=10, command_timeout=30)  # two cores shared by parallel labs
        path = tmp_path / "whycant.yaml"
        path.write_text(yaml.safe_dump(cfg))
        r = subprocess.run(
            [*WHYCANT, "ask", question, "--json", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    return run


def ids(out: dict) -> list[str]:
    return [f["id"] for f in out["findings"]]


def own(out: dict, host: str) -> list[dict]:
    return [r for r in out["drop_reasons"] if r["host"] == host and r["attribution"] == "target"]


def test_own_nftables_drop_is_named(traced, ask):
    lab = traced
    lab.listener("drtgt", PORT)
    lab.nft_drop_from("drtgt", "office1", PORT)
    out = ask(f"why can't office connect to drtgt:{PORT}")
    office = next(c for c in out["connect"] if c["vantage"] == "office")
    assert office["timeout"] == office["attempts"] > 0
    nft = [r for r in own(out, "drtgt") if r["reason"] == "NETFILTER_DROP"]
    assert nft and nft[0]["location"] == "nft_do_chain", out["drop_reasons"]
    assert nft[0]["count"] >= office["attempts"]  # every SYN (and retransmit) was dropped there
    assert ids(out)[0] == "own-firewall-drop", out["findings"]
    assert "drtgt's own nftables dropped the SYNs from office" in out["verdict"]
    assert "drop-before-target" not in ids(out)


def test_drop_before_the_target_has_no_such_reason(traced, ask):
    lab = traced
    lab.listener("drtgt", PORT)
    nft_drop_output(lab, "office1", "drtgt", PORT)  # the sender's own output hook: never reaches drtgt
    out = ask(f"why can't office connect to drtgt:{PORT}")
    office = next(c for c in out["connect"] if c["vantage"] == "office")
    assert office["timeout"] == office["attempts"] > 0
    assert not [r for r in own(out, "drtgt") if r["reason"] == "NETFILTER_DROP"], out["drop_reasons"]
    assert "drop-before-target" in ids(out), out["findings"]
    assert "own-firewall-drop" not in ids(out)
    f = next(f for f in out["findings"] if f["id"] == "drop-before-target")
    assert "dropped before drtgt" in f["explanation"]
    assert any("drtgt's kernel dropped no packet with NETFILTER_DROP" in e for e in f["evidence"]), f["evidence"]


def test_rp_filter_drop_on_multihomed_host(clean_lab, ask):
    lab = clean_lab
    multihomed(lab, "mh", peer="office1")
    before = set(_instances_now(lab, "mh"))
    try:
        lab.listener("mh", PORT)
        out = ask(f"why can't office connect to mh:{PORT}")
        rp = [r for r in own(out, "mh") if r["reason"] == "IP_RPFILTER"]
        assert rp, (out["drop_reasons"], out["connect"], out["counters_delta"].get("TcpExt.IPReversePathFilter"))
        assert "rp-filter-drops" in ids(out), out["findings"]
        f = next(f for f in out["findings"] if f["id"] == "rp-filter-drops")
        assert any("IP_RPFILTER at" in e for e in f["evidence"]), f["evidence"]
        office = next(c for c in out["connect"] if c["vantage"] == "office")
        assert office["timeout"] == office["attempts"] > 0
        assert next(c for c in out["connect"] if c["vantage"] == "bot")["ok"] > 0  # the bot comes in on eth0
    finally:
        _remove_instances(lab, "mh", sorted(set(_instances_now(lab, "mh")) - before))  # the watchdog dies with mh
        lab.remove_host("mh")


def test_unavailable_is_one_line_and_the_diagnosis_goes_on(clean_lab, ask):
    clean_lab.listener("db01", PORT)
    clean_lab.nft_drop_from("db01", "office1", PORT)  # db01's sshd sees no tracefs
    out = ask(f"why can't office connect to db01:{PORT}")
    assert out["drop_reasons"] == []
    assert out["drop_reasons_status"] == (
        "drop reasons unavailable on db01: tracefs is not mounted at /sys/kernel/tracing (whycant mounts nothing)"
    )
    assert "filtered-from-vantage" in ids(out), out["findings"]
    f = next(f for f in out["findings"] if f["id"] == "filtered-from-vantage")
    assert out["drop_reasons_status"] in f["evidence"]
    assert not out["partial"]


# ---------------------------------------------------------------- cleanup of the instance
@pytest.fixture
async def rig(traced):
    cfg = parse_config(traced.whycant_config(connect_timeout=10), source="lab")
    t = SSHTransport(cfg.ssh)
    hosts = {h.name: Host(name=h.name, address=h.address, user="root") for h in traced.hosts.values() if h.sshd_wanted}
    before = set(await instances(t, hosts["drtgt"]))
    try:
        yield traced, t, hosts, before
    finally:
        await t.close()


async def instances(t: SSHTransport, host: Host) -> list[str]:
    got = await t.list_dir(host, [INSTANCES], timeout=5)
    assert got[INSTANCES] is not None, "tracefs not visible on the lab host"
    return [n for n in got[INSTANCES] if n.startswith("whycant-")]


def collector(t: SSHTransport, settings: ProbeSettings = FAST, **overrides) -> Collector:
    return Collector(TransportSet(ssh=t, overrides=overrides), settings)


async def test_instance_gone_after_a_normal_run(rig):
    lab, t, hosts, before = rig
    lab.listener("drtgt", PORT)
    ev = await collector(t).collect(
        Request(target="drtgt", address=hosts["drtgt"].address, port=PORT),
        hosts["drtgt"],
        [VantagePoint("dc", hosts["app01"])],
    )
    assert ev.target.drops.status == "ok", (ev.target.drops, ev.target.probes)
    assert ev.target.drops.instance.startswith(f"{INSTANCES}/whycant-")
    assert set(await instances(t, hosts["drtgt"])) <= before


class _Broken:
    """A vantage transport that fails the way a bug would (not a TransportError), once the
    target's instance exists (which it records)."""

    def __init__(self, t: SSHTransport, target: Host):
        self.t, self.target = t, target
        self.seen_during: list[str] = []

    async def run(self, host, argv, *, timeout, stdin=None, max_output=None):
        self.seen_during = await instances(self.t, self.target)
        raise RuntimeError("vantage exploded")

    async def read_files(self, host, paths, *, timeout):
        raise RuntimeError("vantage exploded")

    async def list_dir(self, host, paths, *, timeout):
        raise RuntimeError("vantage exploded")

    async def close(self):
        return None


async def test_instance_gone_after_a_failed_run(rig):
    _, t, hosts, before = rig
    broken = _Broken(t, hosts["drtgt"])
    c = collector(t, app01=broken)
    with pytest.raises(RuntimeError, match="vantage exploded"):
        await c.collect(
            Request(target="drtgt", address=hosts["drtgt"].address, port=PORT),
            hosts["drtgt"],
            [VantagePoint("office", hosts["office1"]), VantagePoint("dc", hosts["app01"])],
        )
    assert len(set(broken.seen_during) - before) == 1, "the instance existed during the run"
    assert set(await instances(t, hosts["drtgt"])) <= before


async def test_instance_gone_after_a_timed_out_run(rig):
    _, t, hosts, before = rig
    slow = ProbeSettings(window_seconds=60, connect_attempts=2, connect_timeout=0.5, command_timeout=15)
    task = asyncio.ensure_future(
        collector(t, slow).collect(
            Request(target="drtgt", address=hosts["drtgt"].address, port=PORT),
            hosts["drtgt"],
            [VantagePoint("dc", hosts["app01"])],
        )
    )
    deadline = time.monotonic() + 20
    while not set(await instances(t, hosts["drtgt"])) - before:
        assert time.monotonic() < deadline, "the trace never started"
        await asyncio.sleep(0.1)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(task, timeout=1.0)  # the diagnosis' own deadline cancels it mid-window
    assert task.cancelled()
    assert set(await instances(t, hosts["drtgt"])) <= before


async def test_watchdog_removes_an_abandoned_instance(rig):
    lab, t, hosts, before = rig
    w = DropWindow(command_timeout=5, max_s=5)
    await w.start(hosts["drtgt"], t, HostEvidence(host="drtgt"), [hosts["drtgt"].address])
    assert w.armed, w.ev.drops
    assert set(await instances(t, hosts["drtgt"])) - before == {f"whycant-{w.id}"}
    # the bot "dies": stop() is never called; the target's watchdog removes it after max_s
    deadline = time.monotonic() + 15
    while f"whycant-{w.id}" in await instances(t, hosts["drtgt"]):
        assert time.monotonic() < deadline, "the watchdog did not remove the instance"
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.5)  # the watchdog's last rmdir/exit
    assert w.id not in lab.exec("drtgt", "ps", "-eo", "args").stdout  # nothing left running
