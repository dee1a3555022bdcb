"""The fixed trace script, run for real on this machine (no lab): unavailability is one
clear line and nothing is created; a real start/stop in a private tracefs mount."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from probes.drop_reasons import SCRIPT, DropWindow
from probes.evidence import HostEvidence
from probes.inventory import Host
from probes.transports.local import LocalTransport

ROOT = os.geteuid() == 0
LOCAL = Host(name="localhost", address="127.0.0.1", transport="local")


def _tracefs_mounted() -> bool:
    return Path("/sys/kernel/tracing/events").exists()


@pytest.mark.skipif(_tracefs_mounted(), reason="tracefs is mounted here; this checks the unmounted case")
async def test_tracefs_not_mounted_is_one_line_and_the_window_is_inert():
    ev = HostEvidence(host="localhost")
    w = DropWindow(command_timeout=10)
    await w.start(LOCAL, LocalTransport(), ev, ["127.0.0.1"])
    assert ev.drops is not None and ev.drops.status == "unavailable"
    if ROOT:
        assert ev.drops.detail == (
            "drop reasons unavailable on localhost: tracefs is not mounted at "
            "/sys/kernel/tracing (whycant mounts nothing)"
        )
    else:
        assert "not root, and ssh.sudo is off" in ev.drops.detail
    assert not w.armed and [p.error for p in ev.probes if p.probe == "drop_reasons"] == [None]
    await w.stop()  # nothing to stop: harmless
    assert ev.drops.status == "unavailable"


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_not_root_is_refused_before_touching_tracefs():
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            SCRIPT,
            "whycant-drop-reasons",
            "start",
            "0123456789ab",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 0
    assert r.stdout.startswith("unavailable not-root "), r.stdout


def test_script_refuses_bad_arguments_itself():
    for args in (["start", "../../etc", "5"], ["start", "0123456789ab", "5; reboot"], ["mount", "0123456789ab", "1"]):
        r = subprocess.run(
            ["sh", "-c", SCRIPT, "whycant-drop-reasons", *args], capture_output=True, text=True, timeout=30, check=False
        )
        assert r.returncode == 2 and r.stdout.startswith("error bad-"), (args, r.stdout)


@pytest.mark.skipif(not ROOT or not shutil.which("unshare"), reason="needs root to mount tracefs privately")
def test_start_and_stop_in_a_private_tracefs_mount():
    """The real thing, without a lab: start, a refused loopback connect (NO_SOCKET), stop."""
    probe = Path("/sys/kernel/tracing/events/skb/kfree_skb/format")
    run = (
        "mount -t tracefs nodev /sys/kernel/tracing || exit 99\n"
        "grep -q 'skb_drop_reason reason' " + str(probe) + " || exit 98\n"
        'sh -c "$1" whycant-drop-reasons start 0123456789ab 20 || exit 97\n'
        "python3 -c 'import socket; s=socket.socket(); s.settimeout(1); s.connect_ex((\"127.0.0.1\", 9))'\n"
        'sh -c "$1" whycant-drop-reasons stop 0123456789ab\n'
        'sh -c "$1" whycant-drop-reasons check 0123456789ab\n'
    )
    r = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", run, "t", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if r.returncode in (99, 98):
        pytest.skip("no tracefs with drop reasons on this kernel")
    assert r.returncode == 0, r.stderr
    assert "trace-begin" in r.stdout and "reason: NO_SOCKET" in r.stdout, r.stdout[-2000:]
    assert r.stdout.rstrip().endswith("gone /sys/kernel/tracing/instances/whycant-0123456789ab")
