"""The case that started whycant (docs/catalog.md, "The origin case")."""

from __future__ import annotations

from bot.engine import build_evidence, diagnose, load_rules
from probes.evidence import ConnectAttempt, ConnectResult, Evidence, Facts, HostEvidence, ProbeRecord, Request

RULES = load_rules([])

ORIGIN_SYSCTLS = {
    "net.ipv4.tcp_tw_recycle": 1,
    "net.ipv4.tcp_timestamps": 1,
    "net.core.somaxconn": 4096,
    "net.ipv4.tcp_max_syn_backlog": 16192,
    "net.ipv4.tcp_syncookies": 1,
    "net.ipv4.ip_local_port_range": [32768, 60999],
}
FACTS = Facts(os="Linux", kernel_release="3.10.0-1160.el7.x86_64", mem_total_kb=512 * 1024 * 1024, cpus=64)


def _attempts(ok: int, timeout: int) -> list[ConnectAttempt]:
    return [ConnectAttempt(outcome="ok", latency_ms=0.8)] * ok + [
        ConnectAttempt(outcome="timeout", latency_ms=2000.0)
    ] * timeout


def origin_evidence() -> Evidence:
    """Built by hand, the way the collector builds it (not via the case helper)."""
    t0 = {
        "TcpExt.PAWSPassive": 81234,
        "TcpExt.ListenDrops": 91230,
        "TcpExt.ListenOverflows": 0,
        "TcpExt.SyncookiesFailed": 12,
        "Tcp.PassiveOpens": 5_000_000,
    }
    t1 = dict(t0, **{"TcpExt.PAWSPassive": 81241, "TcpExt.ListenDrops": 91237, "Tcp.PassiveOpens": 5_000_013})
    host = HostEvidence(
        host="db01",
        address="198.18.0.10",
        counters_t0=t0,
        counters_t1=t1,
        t0_at=1000.0,
        t1_at=1005.0,
        sysctls=ORIGIN_SYSCTLS,
        facts=FACTS,
        listeners=[],
        probes=[
            ProbeRecord(host="db01", probe=p, command="x")
            for p in ("counters_t0", "counters_t1", "sysctls", "facts", "listeners")
        ],
    )
    from probes.evidence import Listener

    host.listeners = [Listener(local_address="0.0.0.0", port=5432, recv_q=0, send_q=4096)]
    return Evidence(
        request=Request(target="db01", address="198.18.0.10", port=5432, vantages=["office", "dc"]),
        target=host,
        connect=[
            ConnectResult(
                vantage="office",
                vantage_host="office1",
                target_address="198.18.0.10",
                port=5432,
                attempts=_attempts(3, 7),
                nat=True,
                note="office LAN, behind NAT",
            ),
            ConnectResult(
                vantage="dc", vantage_host="app01", target_address="198.18.0.10", port=5432, attempts=_attempts(10, 0)
            ),
        ],
    )


def test_origin_case_ranks_tcp_tw_recycle_first():
    d = diagnose(origin_evidence(), RULES)
    ids = [f.id for f in d.findings]
    assert ids[0] == "tcp-tw-recycle", ids
    assert "backlog-undersized" in ids
    assert "filtered-from-vantage" not in ids  # tcp_tw_recycle explains the NAT'd timeouts
    assert "listen-queue-overflow" not in ids  # ListenOverflows did not move
    assert d.verdict.startswith("db01:5432 drops SYNs from NAT'd clients: tcp_tw_recycle=1 (critical)")
    assert not d.partial

    tw = d.findings[0]
    assert any("TcpExt.PAWSPassive +7 in 5 s" in e for e in tw.evidence)
    assert any("7/10 connects from office (NAT'd) timed out" in e for e in tw.evidence)
    assert any("ListenOverflows +0" in e for e in tw.evidence)
    assert "sysctl -w net.ipv4.tcp_tw_recycle=0" in tw.fix.runtime
    assert "/etc/sysctl.d/" in tw.fix.persistent and "sysctl --system" in tw.fix.persistent
    assert "sysctl -w net.ipv4.tcp_tw_recycle=1" in tw.fix.rollback

    bu = next(f for f in d.findings if f.id == "backlog-undersized")
    assert "net.core.somaxconn=65535" in bu.fix.runtime  # scaled to 512 GB (u16 cap)
    assert "net.ipv4.tcp_max_syn_backlog=131072" in bu.fix.runtime
    assert "512.0 GB" in bu.explanation
    assert "sysctl -w net.core.somaxconn=4096" in bu.fix.rollback


def test_origin_case_without_nat_flag_still_ranks_recycle_first():
    ev = origin_evidence()
    ev.connect[0].nat = False
    ev.connect[0].note = None
    ids = [f.id for f in diagnose(ev, RULES).findings]
    assert ids[0] == "tcp-tw-recycle", ids  # PAWSPassive rising is enough to explain the timeouts


def test_origin_case_nat_from_config_note():
    ev = origin_evidence()
    ev.connect[0].nat = False
    ev.connect[0].note = None
    d = diagnose(ev, RULES, vantage_notes={"office": "office LAN, behind NAT"})
    assert "NAT'd" in d.findings[0].evidence[-1]


def test_origin_sysctls_only_still_fire():
    """Drift reports: sysctls and facts, no counters and no connect tests."""
    ev = build_evidence({"kernel": "3.10.0-1160.el7.x86_64", "mem_gb": 512, "sysctls": ORIGIN_SYSCTLS})
    d = diagnose(ev, RULES)
    ids = [f.id for f in d.findings]
    assert ids[0] == "tcp-tw-recycle"
    assert "backlog-undersized" in ids
    assert "connect" in d.verdict or "not checked" in d.verdict  # says what could not be checked


def test_origin_sysctls_only_without_facts_estimates_memory_from_tcp_mem():
    sysctls = dict(ORIGIN_SYSCTLS, **{"net.ipv4.tcp_mem": [6291456, 8388608, 12582912]})
    ev = Evidence(target=HostEvidence(host="db01", sysctls=sysctls))
    ids = [f.id for f in diagnose(ev, RULES).findings]
    assert ids[:1] == ["tcp-tw-recycle"] and "backlog-undersized" in ids


def test_same_host_on_a_modern_kernel_has_no_recycle_finding():
    sysctls = {k: v for k, v in ORIGIN_SYSCTLS.items() if k != "net.ipv4.tcp_tw_recycle"}
    ev = build_evidence({"kernel": "5.14.0-362.el9.x86_64", "mem_gb": 512, "sysctls": sysctls})
    ids = [f.id for f in diagnose(ev, RULES).findings]
    assert "tcp-tw-recycle" not in ids
    assert "backlog-undersized" in ids
