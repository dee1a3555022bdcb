"""The SSH transport on a production-like fleet (issue 9 points 1, 2, 3, 6, 7; issue 11 point 1):
bastions and OpenSSH config, hosts without SFTP (OpenSSH and dropbear), an unprivileged probe
user, host keys as OpenSSH judges them, timeouts and output caps. Real sshd/dropbear in netns."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import time

import pytest

from bot.inventory import Inventory
from probes.collect import (
    COUNTER_FILES,
    FACT_FILES,
    Collector,
    ProbeSettings,
    TransportSet,
)
from probes.errors import (
    AuthFailed,
    CommandTimeout,
    ConnectFailed,
    HostKeyMismatch,
    JumpHostFailed,
)
from probes.inventory import Host
from probes.parsers.sysctl import sysctl_proc_path
from probes.sysctl_keys import keys_for
from probes.transports.ssh import SSHTransport
from probes.transports.ssh_hostkeys import HostKeyRevoked
from probes.transports.ssh_settings import SSHSettings

pytestmark = [pytest.mark.lab]


def settings(fleet, **over) -> SSHSettings:
    from bot.config import parse_config

    return dataclasses.replace(parse_config(fleet.whycant_config(), "fleet").ssh.settings(), **over)


def hosts(fleet) -> dict[str, Host]:
    from bot.config import parse_config

    return Inventory.from_config(parse_config(fleet.whycant_config(), "fleet")).hosts


@pytest.fixture
async def transport(clean_fleet):
    t = SSHTransport(settings(clean_fleet), hosts=hosts(clean_fleet))
    try:
        yield t
    finally:
        await t.close()


# ---------------------------------------------------------------- 1. bastions and OpenSSH config
async def test_hosts_behind_the_bastion_share_one_jump_connection(clean_fleet, transport):
    inv = hosts(clean_fleet)
    assert clean_fleet.try_connect("bot", "db07", 22) != "ok"  # the bot has no path of its own
    r7, r8 = await asyncio.gather(
        transport.run(inv["db07"], ["cat", "/proc/sys/kernel/hostname"]), transport.run(inv["db08"], ["id", "-un"])
    )
    assert r7.exit_status == 0 and r8.stdout.strip() == clean_fleet.user
    assert transport.connects == 3  # bastion once, then db07 and db08 through it
    jump_key = transport.route(inv["db07"]).key(0)
    assert jump_key == transport.route(inv["db08"]).key(0)
    jump = transport.pool.get(jump_key)
    assert jump is not None and jump.dependents == 2
    # the target's pooled connection runs through the bastion: its peer is the bastion's tunnel
    assert transport.pooled_connection(inv["db07"]) is not None


async def test_bastion_down_is_named_as_the_jump_host(clean_fleet, transport):
    inv = hosts(clean_fleet)
    clean_fleet.stop_sshd("bastion")
    with pytest.raises(JumpHostFailed) as ei:
        await transport.run(inv["db07"], ["true"])
    msg = str(ei.value)
    assert ei.value.kind == "jump-host" and ei.value.jump_host == "bastion"
    assert msg.startswith("db07: bastion (jump host for db07)") and "refused" in msg, msg


async def test_target_down_behind_a_working_bastion_is_the_target(clean_fleet, transport):
    inv = hosts(clean_fleet)
    clean_fleet.stop_sshd("db07")
    with pytest.raises(ConnectFailed) as ei:
        await transport.run(inv["db07"], ["true"])
    assert not isinstance(ei.value, JumpHostFailed)
    assert "jump host bastion could not open a connection to" in str(ei.value)
    assert (await transport.run(inv["bastion"], ["true"])).exit_status == 0


async def test_openssh_config_file_supplies_user_key_known_hosts_and_proxyjump(clean_fleet, tmp_path):
    f = clean_fleet
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host db07\n  ProxyJump bastion\n"
        f"Host db07 bastion\n  User {f.user}\n  IdentityFile {f.client_key}\n  UserKnownHostsFile {f.known_hosts}\n"
    )
    bare = {n: dataclasses.replace(h, proxy_jump=None) for n, h in hosts(f).items()}
    base = dict(user="nobody-here", client_keys=(), known_hosts=None)
    t = SSHTransport(settings(f, config_files=(str(cfg),), **base), hosts=bare)
    off = SSHTransport(settings(f, config_files=(), **base), hosts=bare)
    try:
        res = await t.run(bare["db07"], ["id", "-un"])
        assert res.stdout.strip() == f.user
        assert [j.name for j in t.route(bare["db07"]).jumps] == ["bastion"]
        with pytest.raises((AuthFailed, HostKeyMismatch, ConnectFailed)):
            await off.run(bare["bastion"], ["true"])  # `config: []`: none of it applies
    finally:
        await t.close()
        await off.close()


async def test_proxy_jump_as_user_at_host_port(clean_fleet):
    f = clean_fleet
    spec = f"{f.user}@{f.address('bastion')}:22"
    db07 = dataclasses.replace(hosts(f)["db07"], proxy_jump=spec)
    t = SSHTransport(settings(f))
    try:
        assert (await t.run(db07, ["true"])).exit_status == 0
    finally:
        await t.close()


def test_group_and_ssh_proxy_jump_config_keys(fleet):
    from bot.config import parse_config

    cfg = fleet.whycant_config()
    inv = Inventory.from_config(parse_config(cfg, "fleet"))
    assert inv.hosts["db07"].proxy_jump == "bastion" and inv.hosts["nosftp01"].proxy_jump is None
    cfg["hosts"]["db07"]["proxy_jump"] = "none"
    assert Inventory.from_config(parse_config(cfg, "fleet")).hosts["db07"].proxy_jump == "none"
    cfg["ssh"]["proxy_jump"] = "bastion"
    s = parse_config(cfg, "fleet").ssh.settings()
    t = SSHTransport(s, hosts=inv.hosts)
    assert [j.name for j in t.route(inv.hosts["nosftp01"]).jumps] == ["bastion"]


# ---------------------------------------------------------------- 2. hosts without SFTP
@pytest.mark.parametrize("name", ["nosftp01", "drop01"])
async def test_hosts_without_sftp_give_the_same_files_over_exec(clean_fleet, transport, name):
    inv = hosts(clean_fleet)
    paths = ["/etc/os-release", "/proc/sys/kernel/ostype", "/proc/sys/net/core/somaxconn", "/no/such/file"]
    over_exec = await transport.read_files(inv[name], paths)
    over_sftp = await transport.read_files(inv["bastion"], paths)
    assert over_exec.access == "exec" and over_sftp.access == "sftp"
    assert dict(over_exec) == dict(over_sftp)
    with open("/etc/os-release") as fh:  # the namespaces share the file system
        assert over_exec["/etc/os-release"] == fh.read()
    listing = await transport.list_dir(inv[name], ["/etc/ssh", "/no/such/dir"])
    assert listing.access == "exec"
    assert listing["/etc/ssh"] == sorted(os.listdir("/etc/ssh")) and listing["/no/such/dir"] is None


async def test_missing_sftp_detected_once_per_connection(clean_fleet, transport):
    inv = hosts(clean_fleet)
    log = clean_fleet.hosts["nosftp01"].dir / "sshd.log"
    before = log.read_text().count("subsystem request for sftp")
    for _ in range(3):
        assert (await transport.read_files(inv["nosftp01"], ["/proc/net/snmp"])).access == "exec"
    assert log.read_text().count("subsystem request for sftp") - before == 1
    assert transport.connects == 1


@pytest.mark.parametrize("name", ["nosftp01", "drop01", "db07"])
async def test_snapshot_on_fleet_hosts_has_counters_and_no_unreachable(clean_fleet, transport, name):
    inv = hosts(clean_fleet)
    col = Collector(TransportSet(ssh=transport), ProbeSettings(window_seconds=0.2, command_timeout=10))
    ev = await col.snapshot(inv[name])
    assert ev.counters_t0 and ev.sysctls and ev.facts and ev.listeners is not None
    assert not ev.errors(), ev.errors()
    assert ev.file_access == ("sftp" if name == "db07" else "exec")


# ---------------------------------------------------------------- 3. the unprivileged probe user
async def test_unreadable_file_is_reported_as_not_readable_by_the_user(clean_fleet, transport):
    inv = hosts(clean_fleet)
    for name in ("bastion", "nosftp01", "drop01"):
        r = await transport.read_files(inv[name], ["/etc/shadow", "/proc/net/nf_conntrack", "/no/such"])
        assert r["/etc/shadow"] is None and r["/no/such"] is None
        assert r.unreadable["/etc/shadow"] == f"not readable by {clean_fleet.user}", (name, r.unreadable)
        assert "/no/such" not in r.unreadable  # absent is absent, unreadable is unreadable


async def test_what_the_probe_user_can_read_measured(clean_fleet, transport):
    """The measurement docs/ssh.md reports: every file the probes read is readable unprivileged."""
    inv = hosts(clean_fleet)
    probe_paths = [*COUNTER_FILES, *FACT_FILES.values(), *(sysctl_proc_path(k) for k in keys_for([]))]
    r = await transport.read_files(inv["bastion"], probe_paths)
    assert r.unreadable == {}, r.unreadable
    root_only = ["/proc/net/nf_conntrack", "/proc/net/ip_tables_names", "/proc/sys/net/ipv4/tcp_fastopen_key"]
    r = await transport.read_files(inv["bastion"], root_only)
    assert sorted(r.unreadable) == sorted(root_only)


async def test_sudo_runs_only_the_fixed_commands(clean_fleet):
    f = clean_fleet
    f.listener("bastion", 5432)
    inv = hosts(f)
    plain = SSHTransport(settings(f))
    sudo = SSHTransport(settings(f, sudo=True))
    try:
        without = await plain.run(inv["bastion"], ["ss", "-ltnpH"])
        with_ = await sudo.run(inv["bastion"], ["ss", "-ltnpH"])
        assert "users:" not in without.stdout  # another user's sockets: no process column
        assert 'users:(("python3"' in with_.stdout, with_.stderr
        other = await sudo.run(inv["bastion"], ["id", "-un"])  # not in the list: never via sudo
        assert other.stdout.strip() == f.user
    finally:
        await plain.close()
        await sudo.close()


# ---------------------------------------------------------------- 6. host keys as OpenSSH judges them
async def test_revoked_host_key_is_reported_as_revoked(clean_fleet, tmp_path):
    f = clean_fleet
    h = f.hosts["nosftp01"]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@revoked {h.address} {h.host_key_pub}\n{f.known_hosts.read_text()}")
    t = SSHTransport(settings(f, known_hosts=str(kh)))
    try:
        with pytest.raises(HostKeyRevoked) as ei:
            await t.run(hosts(f)["nosftp01"], ["true"])
    finally:
        await t.close()
    msg = str(ei.value)
    assert "@revoked" in msg and "ssh-keygen -R" not in msg and ei.value.kind == "host-key-revoked"


@pytest.mark.parametrize("principal", ["address", "name", "other"])
async def test_host_certificate_principals_match_address_or_name(clean_fleet, tmp_path, principal):
    f = clean_fleet
    h = f.hosts["nosftp01"]
    ca = tmp_path / "ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)], check=True)
    key = h.dir / "ssh_host_ed25519_key"
    names = {"address": h.address, "name": "nosftp01", "other": "db99.example.invalid"}[principal]
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "lab", "-h", "-n", names, f"{key}.pub"], check=True)
    cfg = h.dir / "sshd_config"
    original = cfg.read_text()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@cert-authority * {ca.with_suffix('.pub').read_text()}")
    t = SSHTransport(settings(f, known_hosts=str(kh)))
    try:
        cfg.write_text(original + f"HostCertificate {key}-cert.pub\n")
        f.stop_sshd("nosftp01")
        f.start_sshd("nosftp01")
        if principal == "other":
            with pytest.raises(HostKeyMismatch) as ei:
                await t.run(hosts(f)["nosftp01"], ["true"])
            assert "not valid for nosftp01 or " + h.address in str(ei.value)
        else:
            assert (await t.run(hosts(f)["nosftp01"], ["true"])).exit_status == 0
    finally:
        await t.close()
        cfg.write_text(original)
        f.stop_sshd("nosftp01")
        f.start_sshd("nosftp01")


# ---------------------------------------------------------------- 7 / issue 11.1: bounded commands
async def test_command_timeout_is_a_timeout_and_the_connection_lives_on(clean_fleet, transport):
    inv = hosts(clean_fleet)
    with pytest.raises(CommandTimeout) as ei:
        await transport.run(inv["db07"], ["sleep", "30"], timeout=0.5)
    assert ei.value.kind == "timeout" and "timed out after 0.5 s" in str(ei.value)
    assert (await transport.run(inv["db07"], ["true"])).exit_status == 0
    assert transport.connects == 2  # bastion + db07, not a reconnect


async def test_output_flood_is_capped_and_stated(clean_fleet):
    f = clean_fleet
    inv = hosts(f)
    t = SSHTransport(settings(f, max_output_bytes=64 * 1024))
    try:
        t0 = time.monotonic()
        res = await t.run(inv["nosftp01"], ["yes", "0123456789"], timeout=20)
        took = time.monotonic() - t0
        assert res.truncated and 0 < len(res.stdout) <= 64 * 1024 and res.stdout.endswith("0123456789\n")
        assert took < 10, took
        for _ in range(50):  # the endless command was killed, not left running
            if not _runs(f, "nosftp01", "yes"):
                break
            await asyncio.sleep(0.1)
        assert not _runs(f, "nosftp01", "yes")
        assert (await t.run(inv["nosftp01"], ["true"])).exit_status == 0
    finally:
        await t.close()


def _runs(f, host: str, comm: str) -> bool:
    for pid in f.netns_pids(host):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == comm:
                    return True
        except OSError:
            pass
    return False


async def test_bannerless_sshd_is_a_clear_per_host_error(clean_fleet, transport):
    f = clean_fleet
    f.listener("nosftp01", 2222, mode="noaccept")  # accepts TCP (backlog), never speaks SSH
    silent = dataclasses.replace(hosts(f)["nosftp01"], name="silent", port=2222)
    t0 = time.monotonic()
    with pytest.raises(ConnectFailed) as ei:
        await transport.run(silent, ["true"])
    assert "accepted the TCP connection but sent no SSH banner" in str(ei.value)
    assert time.monotonic() - t0 < settings(f).connect_timeout + 3


async def test_sshd_stalled_after_its_banner_is_named(clean_fleet, transport):
    f = clean_fleet
    f.stalled_sshd("nosftp01", 2223)
    stalled = dataclasses.replace(hosts(f)["nosftp01"], name="stalled", port=2223)
    t0 = time.monotonic()
    with pytest.raises(ConnectFailed) as ei:
        await transport.run(stalled, ["true"])
    msg = str(ei.value)
    assert "(SSH-2.0-OpenSSH_9.2p1 stalled)" in msg and "did not complete the SSH handshake" in msg, msg
    assert time.monotonic() - t0 < settings(f).connect_timeout + 3


async def test_silent_sshd_fails_the_target_probes_while_connect_tests_report(clean_fleet, transport):
    from probes.collect import VantagePoint
    from probes.evidence import Request

    f = clean_fleet
    f.listener("nosftp01", 2222, mode="noaccept")
    f.listener("nosftp01", 5432)
    silent = dataclasses.replace(hosts(f)["nosftp01"], port=2222)
    col = Collector(
        TransportSet(ssh=transport),
        ProbeSettings(window_seconds=0.2, connect_attempts=3, connect_timeout=0.5, command_timeout=5),
    )
    vantage = VantagePoint("dmz", hosts(f)["bastion"])
    ev = await col.collect(Request(target="nosftp01", address=silent.address, port=5432), silent, [vantage])
    errs = {p.probe: p.error for p in ev.target.errors()}
    assert "no SSH banner" in errs["counters_t0"], errs
    dmz = next(c for c in ev.connect if c.vantage == "dmz")
    assert dmz.error is None and dmz.count("ok") == 3


async def test_truncated_command_output_is_stated_in_the_evidence(clean_fleet):
    f = clean_fleet
    for port in (7001, 7002, 7003, 7004, 7005, 7006):
        f.listener("nosftp01", port)
    t = SSHTransport(settings(f, max_output_bytes=200))
    try:
        col = Collector(TransportSet(ssh=t), ProbeSettings(window_seconds=0.1, command_timeout=10))
        ev = await col.snapshot(hosts(f)["nosftp01"], counters=False)
    finally:
        await t.close()
    assert any(n.startswith("listeners: output of `ss -ltnH` truncated") for n in ev.notes), ev.notes
    assert ev.listeners and 0 < len(ev.listeners) < 7  # what arrived is parsed, no more
    assert not [p for p in ev.errors() if p.probe == "listeners"]
