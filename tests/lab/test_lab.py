"""The lab itself: topology, real sshd, isolation, slots, stale cleanup, teardown."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.lab import Lab, LabError

pytestmark = pytest.mark.lab


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def link_names() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines()}


def test_topology(lab):
    block = ipaddress.ip_network("198.18.0.0/15")
    assert ipaddress.ip_network(lab.subnet).subnet_of(block)
    assert lab.bot_address == f"198.18.{lab.slot}.1"
    assert {"db01", "office1", "app01"} <= set(lab.hosts)
    assert (
        lab.address("db01").endswith(".10")
        and lab.address("office1").endswith(".20")
        and lab.address("app01").endswith(".30")
    )
    assert lab.bridge in link_names()
    for h in lab.hosts.values():
        assert ipaddress.ip_address(h.address) in block
        assert len(h.veth) <= 15 and h.netns in netns_names() and h.veth in link_names()
        if h.sshd_wanted:
            assert lab.sshd_running(h.name)
            assert lab.try_connect("bot", h.name, 22) == "ok"
    # hosts reach each other across the bridge, and nothing else: no default route
    assert lab.try_connect("office1", "db01", 22) == "ok"
    routes = lab.exec("db01", "ip", "-4", "route").stdout
    assert "default" not in routes and lab.subnet in routes


def test_known_hosts_and_client_key(lab):
    lines = lab.known_hosts.read_text().splitlines()
    for name in ("db01", "office1", "app01"):
        h = lab.hosts[name]
        assert f"{name},{h.address} {h.host_key_pub}" in lines
        # the key really is the one sshd serves (ssh-keyscan against the live sshd)
        scanned = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-T", "2", h.address], capture_output=True, text=True
        ).stdout
        assert h.host_key_pub in scanned
    assert lab.client_key.exists() and oct(lab.client_key.stat().st_mode & 0o777) == "0o600"
    cfg = lab.whycant_config()
    assert cfg["ssh"]["known_hosts"] == str(lab.known_hosts) and cfg["ssh"]["client_keys"] == [str(lab.client_key)]
    assert cfg["hosts"]["db01"]["address"] == lab.address("db01")
    assert cfg["vantages"] == {
        "office": {"host": "office1", "note": "office LAN (lab)"},
        "dc": {"host": "app01", "note": "data centre (lab)"},
    }


def test_lab_config_validates(lab_config, lab):
    assert lab_config.ssh.host_key_checking and lab_config.ssh.connect_timeout == 1
    assert set(lab_config.hosts) == {"db01", "office1", "app01"}


def test_exec_and_sysctl_are_per_namespace(clean_lab):
    lab = clean_lab
    root = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    lab.set_sysctl("db01", "net.core.somaxconn", 17)
    assert lab.get_sysctl("db01", "net.core.somaxconn") == "17"
    assert lab.get_sysctl("app01", "net.core.somaxconn") != "17"
    assert Path("/proc/sys/net/core/somaxconn").read_text().strip() == root
    with pytest.raises(LabError, match="root namespace"):
        lab.set_sysctl("bot", "net.core.somaxconn", 17)
    with pytest.raises(LabError, match="net"):
        lab.set_sysctl("db01", "kernel.pid_max", 100000)
    lab.reset()
    assert lab.get_sysctl("db01", "net.core.somaxconn") != "17"
    with pytest.raises(LabError, match="only connects to loopback"):
        lab.try_connect("office1", "192.0.2.1", 80)


def test_stop_and_start_sshd(clean_lab):
    lab = clean_lab
    lab.stop_sshd("app01")
    assert not lab.sshd_running("app01") and lab.try_connect("bot", "app01", 22) == "refused"
    lab.start_sshd("app01")
    assert lab.try_connect("bot", "app01", 22) == "ok"


def test_add_host(lab):
    h = lab.add_host("extra1")
    try:
        assert lab.try_connect("bot", "extra1", 22) == "ok"
        assert h.host_key_pub in lab.known_hosts.read_text()
        with pytest.raises(LabError):
            lab.add_host("extra1")
        with pytest.raises(LabError):
            lab.add_host("way-too-long-name")
    finally:
        lab.remove_host("extra1")  # leave the session lab as it was
    assert h.netns not in netns_names() and h.veth not in link_names()
    assert h.host_key_pub not in lab.known_hosts.read_text()


def test_two_labs_get_different_slots_and_clean_up(lab):
    with Lab(hosts={"solo": 10}) as other:
        assert other.slot != lab.slot
        assert other.subnet != lab.subnet
        assert f"wc{other.slot}-solo" in netns_names() and f"wc{other.slot}br" in link_names()
        pid = other.sshd_pid("solo")
        assert other.try_connect("bot", "solo", 22) == "ok"
    mine = f"wc{other.slot}-"
    assert not any(n.startswith(mine) for n in netns_names())
    assert not any(n.startswith(mine) or n == f"wc{other.slot}br" for n in link_names())
    assert not Path(f"/proc/{pid}").exists()
    assert lab.try_connect("bot", "db01", 22) == "ok"  # ours untouched


def test_stale_objects_of_a_crashed_run_are_removed(lab):
    crashed = Lab(hosts={"ghost": 10}).start()
    slot, pid = crashed.slot, crashed.sshd_pid("ghost")
    crashed.listener("ghost", 7000)
    helper = crashed.helper_pids()[0]
    # simulate a crash: the lock is released (process death), nothing torn down
    os.close(crashed._lock_fd)
    crashed._lock_fd, crashed._closed = None, True
    assert f"wc{slot}-ghost" in netns_names()

    def gone(pid: int) -> bool:
        stat = Path(f"/proc/{pid}/stat")
        return not stat.exists() or stat.read_text().split()[2] == "Z"  # dead (or our unreaped child)

    try:
        again = Lab(hosts={"fresh": 10}, slot=slot).start()
    except LabError:  # a concurrent test run took the free slot first: it must have cleaned it
        deadline = time.monotonic() + 10
        while f"wc{slot}-ghost" in netns_names() and time.monotonic() < deadline:
            time.sleep(0.1)
        again = None
    try:
        assert f"wc{slot}-ghost" not in netns_names()  # the stale namespace is gone
        assert gone(pid) and gone(helper)  # and what ran inside it was killed
        if again is not None:
            assert again.slot == slot and again.try_connect("bot", "fresh", 22) == "ok"
    finally:
        if again is not None:
            again.close()
    for h in crashed.hosts.values():  # reap the zombies of our own Popen objects
        h.sshd and h.sshd.wait(5)
    for h in crashed._helpers:
        h.proc.wait(5)
    if again is not None:
        assert f"wc{slot}br" not in link_names() and not any(n.startswith(f"wc{slot}-") for n in netns_names())


def test_unavailable_reason_names_what_is_missing(monkeypatch):
    import tests.lab.lab as labmod

    monkeypatch.setattr(labmod.os, "geteuid", lambda: 1000)
    assert "root" in labmod.lab_unavailable_reason()
    monkeypatch.setattr(labmod.os, "geteuid", lambda: 0)
    monkeypatch.setattr(labmod, "SSHD", "/nonexistent/sshd")
    assert "sshd" in labmod.lab_unavailable_reason()
