"""Each lab failure mode, observed the way whycant will see it: plain socket connects
from vantages (through ``lab.exec``) and MIB counters read over SSH/SFTP before/after."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

PORT = 5432
ROOT_SYSCTLS = [
    "net/core/somaxconn",
    "net/ipv4/tcp_max_syn_backlog",
    "net/ipv4/tcp_syncookies",
    "net/ipv4/tcp_max_tw_buckets",
    "net/ipv4/ip_local_port_range",
]
ROOT_BEFORE = {k: Path("/proc/sys", k).read_text() for k in ROOT_SYSCTLS}


def parse_mib(*texts: str) -> dict[str, int]:
    """Minimal /proc/net/{netstat,snmp} reader for these tests (the real parser lives in probes/)."""
    out: dict[str, int] = {}
    for text in texts:
        lines = text.splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            group, names = head.split(":", 1)
            for n, v in zip(names.split(), vals.split(":", 1)[1].split()):
                out[f"{group}.{n}"] = int(v)
    return out


async def counters(transport, host) -> dict[str, int]:
    files = await transport.read_files(host, ["/proc/net/netstat", "/proc/net/snmp"], timeout=5)
    return parse_mib(files["/proc/net/netstat"], files["/proc/net/snmp"])


def delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


@pytest.fixture(autouse=True)
def _root_namespace_untouched():
    yield
    assert {k: Path("/proc/sys", k).read_text() for k in ROOT_SYSCTLS} == ROOT_BEFORE


def test_nothing_listening_is_refused(clean_lab):
    assert clean_lab.try_connect("office1", "db01", PORT) == "refused"
    assert clean_lab.try_connect("bot", "db01", PORT) == "refused"


def test_listener_ok_from_everywhere(clean_lab):
    lab = clean_lab
    lab.listener("db01", PORT)
    for v in ("office1", "app01", "bot"):
        assert lab.try_connect(v, "db01", PORT) == "ok"
    ss = lab.exec("db01", "ss", "-ltnH").stdout
    assert f"0.0.0.0:{PORT}" in ss


def test_loopback_only_listener(clean_lab):
    lab = clean_lab
    lab.listener("db01", PORT, bind="127.0.0.1")
    assert lab.try_connect("office1", "db01", PORT) == "refused"
    assert lab.try_connect("db01", "127.0.0.1", PORT) == "ok"
    assert f"127.0.0.1:{PORT}" in lab.exec("db01", "ss", "-ltnH").stdout


def test_nft_drop_from_one_vantage(clean_lab):
    lab = clean_lab
    lab.listener("db01", PORT)
    lab.nft_drop_from("db01", "office1", PORT)
    assert lab.try_connect("office1", "db01", PORT, timeout=0.5) == "timeout"
    assert lab.try_connect("app01", "db01", PORT) == "ok"
    assert lab.nft_table in lab.exec("db01", "nft", "list", "tables").stdout
    lab.reset()
    assert lab.nft_table not in lab.exec("db01", "nft", "list", "tables").stdout


async def test_nft_reject_from_one_vantage(clean_lab, lab_transport, lab_hosts):
    lab = clean_lab
    lab.listener("db01", PORT)
    lab.nft_reject_from("db01", "office1", PORT)
    t0 = await counters(lab_transport, lab_hosts["db01"])
    assert lab.try_connect("office1", "db01", PORT) == "refused"
    assert lab.try_connect("app01", "db01", PORT) == "ok"
    t1 = await counters(lab_transport, lab_hosts["db01"])
    assert delta(t0, t1, "Icmp.OutDestUnreachs") >= 1  # the REJECT's ICMP port-unreachable
    lab.reset()
    lab.listener("db01", PORT)
    lab.nft_reject_from("db01", "office1", PORT, with_="tcp reset")
    assert lab.try_connect("office1", "db01", PORT) == "refused"


def test_no_route_from_one_vantage(clean_lab):
    lab = clean_lab
    lab.listener("db01", PORT)
    lab.no_route("office1", "db01")
    assert lab.try_connect("office1", "db01", PORT) == "unreachable"
    assert lab.try_connect("app01", "db01", PORT) == "ok"
    lab.reset()
    assert lab.try_connect("office1", "db01", PORT) == "refused"  # route back (listener gone too)


def test_ephemeral_ports_exhausted_on_vantage(clean_lab):
    lab = clean_lab
    held = lab.exhaust_ephemeral_ports("office1", "db01", PORT, ports=4)
    assert held.get("ok") == 4 and held.get("addr_not_avail") == 1
    assert lab.try_connect("office1", "db01", PORT) == "addr_not_avail"
    assert lab.try_connect("app01", "db01", PORT) == "ok"
    lab.reset()
    assert lab.get_sysctl("office1", "net.ipv4.ip_local_port_range").split() == ["32768", "60999"]


async def test_accept_queue_overflow_counters_rise(clean_lab, lab_transport, lab_hosts):
    lab, db01 = clean_lab, lab_hosts["db01"]
    prefill = lab.accept_queue_overflow("db01", PORT, backlog=2)
    assert prefill == {"ok": 3}  # the accept queue holds backlog+1
    row = next(line for line in lab.exec("db01", "ss", "-ltnH").stdout.splitlines() if f":{PORT} " in line)
    assert row.split()[1:3] == ["3", "2"]  # Recv-Q (queued) above Send-Q (backlog)
    t0 = await counters(lab_transport, db01)
    results = [lab.try_connect(v, "db01", PORT, timeout=0.4) for v in ("office1", "app01", "office1")]
    t1 = await counters(lab_transport, db01)
    assert results == ["timeout"] * 3
    assert delta(t0, t1, "TcpExt.ListenOverflows") >= 3
    assert delta(t0, t1, "TcpExt.ListenDrops") >= 3
    # the other hosts' counters did not move: one namespace per host
    lab.reset()
    assert lab.try_connect("office1", "db01", PORT) == "refused"


@pytest.mark.parametrize("syncookies", [False, True], ids=["syncookies-off", "syncookies-on"])
async def test_syn_queue_overflow(clean_lab, lab_transport, lab_hosts, syncookies):
    lab, db01 = clean_lab, lab_hosts["db01"]
    t0 = await counters(lab_transport, db01)
    filled = lab.syn_queue_overflow("db01", PORT, syncookies=syncookies, backlog=8)
    half_open = int(lab.exec("db01", "ss", "-tnH", "state", "syn-recv", f"sport = :{PORT}").stdout.count("\n"))
    assert half_open >= 8, filled
    got = [lab.try_connect(v, "db01", PORT, timeout=0.4) for v in ("office1", "app01")]
    t1 = await counters(lab_transport, db01)
    if syncookies:
        assert got == ["ok", "ok"]
        assert delta(t0, t1, "TcpExt.SyncookiesSent") >= 2
        assert delta(t0, t1, "TcpExt.TCPReqQFullDoCookies") >= 2
        assert delta(t0, t1, "TcpExt.SyncookiesRecv") >= 2  # the vantages completed with cookies
    else:
        assert got == ["timeout", "timeout"]
        assert delta(t0, t1, "TcpExt.TCPReqQFullDrop") >= 2
        assert delta(t0, t1, "TcpExt.SyncookiesSent") == 0
        assert delta(t0, t1, "TcpExt.ListenDrops") >= 2


async def test_time_wait_bucket_overflow(clean_lab, lab_transport, lab_hosts):
    lab, db01 = clean_lab, lab_hosts["db01"]
    t0 = await counters(lab_transport, db01)
    churn = lab.tw_bucket_overflow("db01", PORT, buckets=4, connections=40)
    t1 = await counters(lab_transport, db01)
    assert churn["ok"] >= 20  # bounded in time too (8 s budget)
    # every server-side close beyond the 4 buckets overflows (TIME-WAIT lasts 60 s)
    assert delta(t0, t1, "TcpExt.TCPTimeWaitOverflow") >= churn["ok"] - 4
    # TIME-WAIT sockets of this port only (earlier tests may have left others for up to 60 s)
    tw = lab.exec("db01", "ss", "-tanH", "state", "time-wait", "sport", "=", f":{PORT}").stdout.count("\n")
    assert tw <= 4


def test_reset_undoes_everything(clean_lab):
    lab = clean_lab
    lab.listener("db01", PORT)
    lab.nft_drop_from("db01", "app01", PORT)
    lab.no_route("office1", "db01")
    lab.set_sysctl("db01", "net.ipv4.tcp_max_tw_buckets", 4)
    lab.stop_sshd("app01")
    pids = lab.helper_pids()
    assert pids
    lab.reset()
    assert lab.helper_pids() == [] and not any(Path(f"/proc/{p}").exists() for p in pids)
    assert lab.get_sysctl("db01", "net.ipv4.tcp_max_tw_buckets") != "4"
    assert lab.sshd_running("app01")
    assert lab.try_connect("office1", "db01", PORT) == "refused"  # route back, listener gone
    assert lab.try_connect("app01", "db01", 22) == "ok"
