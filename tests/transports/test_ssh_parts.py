"""Pure parts of the SSH transport: exec file-read framing, path checks, routes from settings,
inventory and an OpenSSH config file (no network)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from probes.errors import JumpHostFailed, TransportError
from probes.inventory import Host
from probes.transports import ssh_files as sf
from probes.transports.ssh_route import RouteResolver, SSHConfigError
from probes.transports.ssh_settings import SSHSettings


@pytest.fixture
def shared_dir():
    """A directory the unprivileged user can traverse (pytest's tmp_path is root-only)."""
    d = Path(tempfile.mkdtemp(prefix="whycant-test-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_read_script_round_trips_real_files(shared_dir):
    tmp_path = shared_dir
    good = tmp_path / "a.txt"
    good.write_bytes("line 1\n@@whycant file /etc/passwd ZmFrZQ==\nünïcode\n".encode())
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0)
    paths = [str(good), str(tmp_path / "absent"), str(tmp_path), str(secret)]
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *sf.read_argv(paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    files, unreadable = sf.parse_read_output(out.stdout, paths, "nobody")
    assert files[str(good)] == good.read_text()  # a forged record inside a file is just content
    assert files[str(tmp_path / "absent")] is None and str(tmp_path / "absent") not in unreadable
    assert unreadable[str(tmp_path)] == "not read: a directory"
    assert unreadable[str(secret)] == "not readable by nobody"


def test_parse_read_output_reports_missing_and_damaged_records():
    b64 = base64.b64encode(b"42\n").decode()
    out = f"\n@@whycant file /proc/a {b64}\n@@whycant file /proc/b !!notbase64\n"
    files, unreadable = sf.parse_read_output(out, ["/proc/a", "/proc/b", "/proc/c"], "u")
    assert files == {"/proc/a": "42\n", "/proc/b": None, "/proc/c": None}
    assert "damaged" in unreadable["/proc/b"] and "ended early" in unreadable["/proc/c"]


def test_list_script_handles_odd_names(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for name in ("a.conf", ".hidden", "with space", "new\nline", "..dots"):
        (d / name).write_text("")
    out = subprocess.run(sf.list_argv([str(d), str(tmp_path / "none")]), capture_output=True, text=True, check=True)
    dirs, unreadable = sf.parse_list_output(out.stdout, [str(d), str(tmp_path / "none")], "u")
    assert dirs[str(d)] == sorted(["a.conf", ".hidden", "with space", "new\nline", "..dots"])
    assert dirs[str(tmp_path / "none")] is None and not unreadable


@pytest.mark.parametrize("bad", ["relative/path", "/etc/../etc/shadow", "/tmp/$(reboot)", "/a b", "/x;y", "", "/a//b"])
def test_exec_paths_are_checked(bad):
    with pytest.raises(sf.BadPath):
        sf.read_argv([bad])


def test_route_precedence_inventory_then_openssh_config_then_settings(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text(
        "Host db07\n  HostName 198.18.9.7\n  User alice\n  Port 2222\n  ProxyJump bastion01\n"
        "  IdentityFile ~/k1\n  UserKnownHostsFile /kh/one /kh/two\nHost *\n  User carol\n"
    )
    s = SSHSettings(user="whycant", config_files=(str(cfg),), client_keys=("/default/key",))
    inv = {"bastion01": Host("bastion01", "198.18.9.2", user="jump", port=2200)}
    r = RouteResolver(s, inv)
    route = r.route(Host("db07", "db07"))  # no address of its own: HostName applies
    assert (route.target.address, route.target.port, route.target.user) == ("198.18.9.7", 2222, "alice")
    assert route.target.known_hosts == ("/kh/one", "/kh/two") and route.target.client_keys[0].endswith("/k1")
    assert [(j.name, j.address, j.port, j.user) for j in route.jumps] == [("bastion01", "198.18.9.2", 2200, "jump")]
    explicit = r.route(Host("db07x", "198.18.9.70", user="bob", proxy_jump="none", client_keys=("/own",)))
    assert (explicit.target.user, explicit.jumps, explicit.target.client_keys) == ("bob", (), ("/own",))
    assert r.route(Host("other", "198.18.9.8")).target.user == "carol"  # config User over ssh.user
    assert RouteResolver(SSHSettings(config_files=()), {}).route(Host("x", "198.18.9.8")).target.user == "whycant"
    chain = r.route(Host("y", "198.18.9.9", proxy_jump="ops@198.18.9.3:23,bastion01"))
    assert [(j.address, j.port, j.user) for j in chain.jumps] == [
        ("198.18.9.3", 23, "ops"),
        ("198.18.9.2", 2200, "jump"),
    ]
    assert chain.key(1)[3] == (("198.18.9.3", 23, "ops"),)  # a hop's pool key includes the hops before it


@pytest.mark.parametrize("spec", ["a b", "x@y@z", "host:99999", "y"])
def test_bad_proxy_jump_is_a_config_error(spec):
    r = RouteResolver(SSHSettings(config_files=()), {})
    with pytest.raises(SSHConfigError) as ei:
        r.route(Host("y", "198.18.9.9", proxy_jump=spec))
    assert "proxy_jump" in str(ei.value)


def test_unparseable_openssh_config_is_named(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("Host a\n  Port notaport\n")
    with pytest.raises(SSHConfigError) as ei:
        RouteResolver(SSHSettings(config_files=(str(cfg),)), {}).route(Host("a", "198.18.9.9"))
    assert str(cfg) in str(ei.value)


def test_jump_host_error_is_a_connect_error_with_its_own_kind():
    e = JumpHostFailed("db07", "bastion01 (jump host for db07): refused", jump_host="bastion01")
    assert isinstance(e, TransportError) and e.kind == "jump-host" and e.jump_host == "bastion01"


def test_config_builds_probe_settings():
    from bot.config import parse_config

    c = parse_config(
        {
            "ssh": {"config": "~/cfg", "proxy_jump": "bastion", "max_output_bytes": 4096, "sudo": True},
            "groups": {"dc2": {"proxy_jump": "bastion"}},
        }
    ).ssh
    s = c.settings("/base")
    assert s.config_files == ("~/cfg",) and s.proxy_jump == "bastion" and s.max_output_bytes == 4096 and s.sudo
    assert s.known_hosts is None and s.user == "whycant" and s.base_dir == "/base"
    assert parse_config({"ssh": {"config": []}}).ssh.settings().config_files == ()
    assert parse_config({}).ssh.settings().config_files is None
