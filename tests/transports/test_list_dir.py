"""``list_dir``: the same answer from the local transport, the SSH transport (SFTP) and a recording."""

from __future__ import annotations

import pytest

from probes.inventory import Host
from probes.transports.local import LocalTransport
from probes.transports.replay import ReplayTransport

LOCAL = Host(name="localhost", address="127.0.0.1", transport="local")


async def test_local_list_dir(tmp_path):
    (tmp_path / "10-a.conf").write_text("x = 1\n")
    (tmp_path / "99-b.conf").write_text("y = 2\n")
    got = await LocalTransport().list_dir(LOCAL, [str(tmp_path), str(tmp_path / "missing")], timeout=5)
    assert sorted(got[str(tmp_path)]) == ["10-a.conf", "99-b.conf"]
    assert got[str(tmp_path / "missing")] is None


async def test_replay_list_dir_from_dirs_and_from_files():
    t = ReplayTransport(
        {
            "a": {"dirs": {"/etc/sysctl.d": ["b.conf", "a.conf"], "/run/sysctl.d": None}},
            "b": {"files": {"/etc/sysctl.d/x.conf": "k = 1\n"}},
        }
    )
    got = await t.list_dir(Host(name="a", address="198.18.0.1"), ["/etc/sysctl.d", "/run/sysctl.d"], timeout=1)
    assert got == {"/etc/sysctl.d": ["a.conf", "b.conf"], "/run/sysctl.d": None}
    got = await t.list_dir(Host(name="b", address="198.18.0.2"), ["/etc/sysctl.d", "/usr/lib/sysctl.d"], timeout=1)
    assert got == {"/etc/sysctl.d": ["x.conf"], "/usr/lib/sysctl.d": None}


@pytest.mark.lab
async def test_ssh_list_dir_matches_the_host(lab, lab_transport, lab_hosts):
    db01 = lab_hosts["db01"]
    got = await lab_transport.list_dir(db01, ["/etc", "/nonexistent-whycant"], timeout=5)
    expected = lab.exec("db01", "ls", "-A", "/etc").stdout.split()
    assert sorted(got["/etc"]) == sorted(expected)
    assert got["/nonexistent-whycant"] is None


async def test_replay_list_dir_does_not_read_recorded_find_output():
    """Recordings list directories with "dirs" (or their recorded files); a recorded `find` is just a command."""
    t = ReplayTransport(
        {
            "a": {
                "commands": {
                    "find /etc/sysctl.d -maxdepth 1 -name '*.conf'": {"stdout": "/etc/sysctl.d/10-a.conf\n", "exit": 0}
                }
            }
        }
    )
    got = await t.list_dir(Host(name="a", address="198.18.0.1"), ["/etc/sysctl.d"], timeout=1)
    assert got == {"/etc/sysctl.d": None}
