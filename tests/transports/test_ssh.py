"""SSHTransport against real OpenSSH sshd in the lab (needs root; see tests/lab/README.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from pathlib import Path

import pytest

from bot.config import SSHConfig
from probes.errors import AuthFailed, CommandTimeout, ConnectFailed, HostKeyMismatch, TransportError
from probes.transports.base import Transport
from probes.transports.ssh import SSHTransport

pytestmark = pytest.mark.lab

NAMES = ["db01", "office1", "app01"]


def ssh_config(lab, **over) -> SSHConfig:
    return SSHConfig(**{**lab.whycant_config()["ssh"], **over})


def fingerprint(pubkey_line: str, tmp_path: Path) -> str:
    f = tmp_path / "k.pub"
    f.write_text(pubkey_line + "\n")
    return subprocess.run(["ssh-keygen", "-lf", str(f)], capture_output=True, text=True, check=True).stdout.split()[1]


def test_is_a_transport(lab):
    assert isinstance(SSHTransport(ssh_config(lab)), Transport)


@pytest.mark.parametrize("name", NAMES)
async def test_run_and_read_proc_files_over_sftp(lab, lab_transport, lab_hosts, name):
    host = lab_hosts[name]
    r = await lab_transport.run(host, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"], timeout=5)
    assert r.exit_status == 0 and lab.address(name) in r.stdout
    assert r.host == name and r.command == "ip -4 -o addr show dev eth0" and r.stderr == ""
    files = await lab_transport.read_files(
        host,
        ["/proc/net/netstat", "/proc/net/snmp", "/proc/sys/net/core/somaxconn", "/nonexistent/x", "/proc"],
        timeout=5,
    )
    # /proc files have st_size 0: the transport reads until EOF
    assert files["/proc/net/netstat"].startswith("TcpExt: ") and "IpExt: " in files["/proc/net/netstat"]
    assert files["/proc/net/snmp"].startswith("Ip: ") and "\nTcp: " in files["/proc/net/snmp"]
    assert files["/proc/sys/net/core/somaxconn"].strip().isdigit()
    assert files["/nonexistent/x"] is None and files["/proc"] is None


async def test_argv_is_quoted_not_interpreted(lab_transport, lab_hosts):
    nasty = ["a b", "$(id)", "`id`", "x;echo pwned", "it's", "*", "", "$HOME"]
    r = await lab_transport.run(lab_hosts["db01"], ["printf", "%s\\n", *nasty], timeout=5)
    assert r.stdout.split("\n")[:-1] == nasty


async def test_stdin_exit_status_and_stderr(lab_transport, lab_hosts):
    h = lab_hosts["db01"]
    assert (await lab_transport.run(h, ["cat"], timeout=5, stdin="one\ntwo\n")).stdout == "one\ntwo\n"
    assert (await lab_transport.run(h, ["cat"], timeout=5)).stdout == ""  # stdin gets EOF, no hang
    r = await lab_transport.run(h, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=5)
    assert (r.exit_status, r.stdout, r.stderr) == (3, "out\n", "err\n")  # non-zero exit is not an error
    with pytest.raises(ValueError):
        await lab_transport.run(h, "echo hi", timeout=5)  # type: ignore[arg-type]


async def test_prefers_cheap_cipher(lab_transport, lab_hosts):
    await lab_transport.run(lab_hosts["db01"], ["true"], timeout=5)
    conn = lab_transport.pooled_connection(lab_hosts["db01"])
    assert conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"


async def test_host_key_mismatch_refused(lab, lab_hosts, tmp_path):
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    wrong_pub = " ".join(Path(f"{wrong}.pub").read_text().split()[:2])
    kh = tmp_path / "known_hosts"
    kh.write_text(
        "\n".join(
            f"{h.address} {wrong_pub if h.name == 'db01' else h.host_key_pub}"
            for h in lab.hosts.values()
            if h.host_key_pub
        )
        + "\n"
    )
    t = SSHTransport(ssh_config(lab, known_hosts=str(kh)))
    try:
        with pytest.raises(HostKeyMismatch) as ei:
            await t.run(lab_hosts["db01"], ["true"], timeout=5)
        msg = str(ei.value)
        assert "does not match known_hosts" in msg and str(kh) in msg
        assert fingerprint(lab.hosts["db01"].host_key_pub, tmp_path) in msg  # what the server presented
        assert fingerprint(wrong_pub, tmp_path) in msg  # what known_hosts expected
        assert ei.value.host == "db01" and ei.value.kind == "host-key"
        # the other hosts, whose keys are right, still answer on the same transport
        assert (await t.run(lab_hosts["office1"], ["true"], timeout=5)).exit_status == 0
    finally:
        await t.close()


async def test_unknown_host_refused_by_default(lab, lab_hosts, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(lab.host_key_line("office1") + "\n")
    t = SSHTransport(ssh_config(lab, known_hosts=str(kh)))
    missing = SSHTransport(ssh_config(lab, known_hosts=str(tmp_path / "absent")))
    try:
        with pytest.raises(HostKeyMismatch, match="not in known_hosts") as ei:
            await t.run(lab_hosts["db01"], ["true"], timeout=5)
        assert fingerprint(lab.hosts["db01"].host_key_pub, tmp_path) in str(ei.value)
        with pytest.raises(HostKeyMismatch, match="not in known_hosts.*does not exist"):
            await missing.read_files(lab_hosts["db01"], ["/proc/net/snmp"], timeout=5)
    finally:
        await t.close()
        await missing.close()


async def test_known_hosts_ignore_works_and_warns(lab, lab_hosts, caplog):
    with caplog.at_level(logging.WARNING, logger="probes.transports.ssh"):
        t = SSHTransport(ssh_config(lab, known_hosts="ignore"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "NOT verified" in r.getMessage()]
    assert len(warnings) == 1
    try:
        assert (await t.run(lab_hosts["db01"], ["true"], timeout=5)).exit_status == 0
    finally:
        await t.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="probes.transports.ssh"):
        SSHTransport(ssh_config(lab))  # checking on: no warning
    assert not caplog.records


async def test_wrong_client_key_is_auth_failure(lab, lab_hosts, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    t = SSHTransport(ssh_config(lab, client_keys=[str(key)]))
    try:
        with pytest.raises(AuthFailed, match="authentication failed for user 'root'") as ei:
            await t.run(lab_hosts["db01"], ["true"], timeout=5)
        assert ei.value.kind == "auth"
    finally:
        await t.close()
    t2 = SSHTransport(ssh_config(lab, client_keys=[str(tmp_path / "no-such-key")]))
    with pytest.raises(AuthFailed, match="cannot load SSH client key"):
        await t2.run(lab_hosts["db01"], ["true"], timeout=5)


async def test_stopped_sshd_fails_fast_others_answer(clean_lab, lab_transport, lab_hosts):
    clean_lab.stop_sshd("db01")

    async def timed(name):
        t0 = time.monotonic()
        try:
            return await lab_transport.run(lab_hosts[name], ["true"], timeout=5), time.monotonic() - t0
        except ConnectFailed as e:
            return e, time.monotonic() - t0

    (err, took), *others = await asyncio.gather(*(timed(n) for n in NAMES))
    assert isinstance(err, ConnectFailed) and "refused" in str(err) and err.host == "db01"
    assert took < 0.5  # refused at once, not a connect timeout
    assert [r.exit_status for r, _ in others] == [0, 0]


async def test_filtered_ssh_port_is_connect_timeout(clean_lab, lab_transport, lab_hosts):
    clean_lab.nft_drop_from("db01", "bot", 22)
    t0 = time.monotonic()
    with pytest.raises(ConnectFailed, match="timed out connecting to .* after 1 s"):
        await lab_transport.run(lab_hosts["db01"], ["true"], timeout=5)
    assert time.monotonic() - t0 < 2.5
    # concurrent callers share one connect attempt and one failure
    t0 = time.monotonic()
    res = await asyncio.gather(
        *(lab_transport.read_files(lab_hosts["db01"], ["/proc/net/snmp"], timeout=5) for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, ConnectFailed) for r in res) and time.monotonic() - t0 < 2.5


async def test_command_timeout_kills_remote_process(lab, lab_transport, lab_hosts):
    marker = "37.25"  # an unusual argument to find the process by
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout, match="timed out after 1 s") as ei:
        await lab_transport.run(lab_hosts["db01"], ["sleep", marker], timeout=1)
    assert time.monotonic() - t0 < 1.5
    assert ei.value.kind == "timeout"

    def sleeping() -> list[int]:
        found = []
        for pid in lab.netns_pids("db01"):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    found.append(pid)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 2
    while sleeping() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sleeping() == [], "the timed-out remote command is still running"
    # the pooled connection is still good afterwards
    assert (await lab_transport.run(lab_hosts["db01"], ["echo", "ok"], timeout=5)).stdout == "ok\n"


async def test_cancelled_command_is_killed_too(lab, lab_transport, lab_hosts):
    marker = "41.75"
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(lab_transport.run(lab_hosts["app01"], ["sleep", marker]), 0.5)  # default timeout 5
    await lab_transport.close()  # waits for the pending remote kill

    def sleeping() -> bool:
        for pid in lab.netns_pids("app01"):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    return True
        return False

    deadline = time.monotonic() + 2
    while sleeping() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not sleeping()


async def test_pooled_connection_reused_and_cheaper(lab, lab_hosts):
    t = SSHTransport(ssh_config(lab))
    h = lab_hosts["app01"]
    try:
        t0 = time.perf_counter()
        await t.read_files(h, ["/proc/net/snmp"], timeout=5)
        cold = time.perf_counter() - t0
        conn = t.pooled_connection(h)
        warm = []
        for _ in range(5):
            t0 = time.perf_counter()
            await t.read_files(h, ["/proc/net/snmp"], timeout=5)
            warm.append(time.perf_counter() - t0)
        r = await t.run(h, ["true"], timeout=5)
        assert r.exit_status == 0
        assert t.pooled_connection(h) is conn and t.connects == 1
        warm_best = min(warm)
        print(f"\nSFTP read of /proc/net/snmp: cold {cold * 1000:.1f} ms, pooled {warm_best * 1000:.1f} ms")
        assert warm_best < cold / 3
    finally:
        await t.close()
    assert conn.is_closed()
    with pytest.raises(TransportError, match="closed"):
        await t.run(h, ["true"], timeout=5)


async def test_dead_pooled_connection_replaced_once(lab, lab_transport, lab_hosts):
    h = lab_hosts["office1"]
    await lab_transport.run(h, ["true"], timeout=5)
    first = lab_transport.pooled_connection(h)
    listener = lab.sshd_pid("office1")
    # kill the server side of the pooled connection (its sshd session processes)
    for pid in lab.netns_pids("office1"):
        if pid != listener:
            subprocess.run(["kill", "-KILL", str(pid)], check=False)
    await asyncio.sleep(0.2)
    r = await lab_transport.run(h, ["echo", "again"], timeout=5)
    assert r.stdout == "again\n"
    assert lab_transport.pooled_connection(h) is not first and lab_transport.connects == 2


async def test_idle_connection_closed(lab, lab_hosts):
    t = SSHTransport(ssh_config(lab, idle_timeout=0.3))
    h = lab_hosts["db01"]
    try:
        await t.run(h, ["true"], timeout=5)
        conn = t.pooled_connection(h)
        assert conn is not None
        await asyncio.sleep(0.6)
        assert t.pooled_connection(h) is None and conn.is_closed()
        await t.run(h, ["true"], timeout=5)
        assert t.connects == 2
    finally:
        await t.close()


async def test_concurrency_caps_respected(lab, lab_hosts):
    t = SSHTransport(ssh_config(lab, per_host_concurrency=2, max_concurrency=3))
    script = "date +%s.%N; sleep 0.25; date +%s.%N"
    try:
        jobs = [(n, t.run(lab_hosts[n], ["sh", "-c", script], timeout=10)) for n in NAMES for _ in range(4)]
        results = await asyncio.gather(*(j for _, j in jobs))
    finally:
        await t.close()
    # measured on the hosts themselves (the namespaces share one clock)
    spans = [(n, *map(float, r.stdout.split())) for (n, _), r in zip(jobs, results)]

    def max_overlap(sp):
        events = sorted([(s, 1) for s, _ in sp] + [(e, -1) for _, e in sp], key=lambda x: (x[0], x[1]))
        cur = best = 0
        for _, d in events:
            cur += d
            best = max(best, cur)
        return best

    for n in NAMES:
        assert max_overlap([(s, e) for m, s, e in spans if m == n]) <= 2
    assert max_overlap([(s, e) for _, s, e in spans]) <= 3
    # and by the transport's own counters: the caps were reached, never exceeded
    assert t.max_in_flight == 3
    assert max(t.host_max_in_flight.values()) == 2


async def test_known_hosts_entry_by_inventory_name(lab, lab_hosts, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text(f"db01 {lab.hosts['db01'].host_key_pub}\noffice1 {lab.hosts['db01'].host_key_pub}\n")
    t = SSHTransport(ssh_config(lab, known_hosts=str(kh)))
    try:
        assert (await t.run(lab_hosts["db01"], ["true"], timeout=5)).exit_status == 0
        with pytest.raises(HostKeyMismatch, match="does not match known_hosts"):
            await t.run(lab_hosts["office1"], ["true"], timeout=5)
    finally:
        await t.close()
