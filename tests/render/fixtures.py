"""Representative outcomes for golden files and the Slack tests (deterministic)."""

from __future__ import annotations

from bot.findings import Diagnosis, Finding, Fix
from bot.outcome import IncidentInfo, Outcome
from probes.evidence import ConnectAttempt, ConnectResult, Evidence, HostEvidence, ProbeRecord, Request

ALL_RULES = [
    "tcp-tw-recycle",
    "listen-queue-overflow",
    "syn-queue-overflow",
    "syncookies-failing",
    "rcv-buffer-pressure",
    "port-not-listening",
    "listening-on-loopback-only",
    "filtered-from-vantage",
    "rejected-from-vantage",
    "unreachable-from-vantage",
    "ephemeral-ports-exhausted",
    "conntrack-table-full",
    "tw-bucket-overflow",
    "backlog-undersized",
    "target-ssh-unreachable",
]


def _connect(
    vantage: str,
    host: str,
    address: str,
    port: int,
    outcomes: list[str],
    latency: float = 0.4,
    error: str | None = None,
) -> ConnectResult:
    return ConnectResult(
        vantage=vantage,
        vantage_host=host,
        target_address=address,
        port=port,
        attempts=[
            ConnectAttempt(outcome=o, latency_ms=latency + i * 0.1, detail=None if o == "ok" else o.upper())
            for i, o in enumerate(outcomes)
        ],
        runner="python3",
        error=error,
        duration_s=1.2,
    )


def _evidence(
    host: str,
    address: str,
    port: int,
    connect: list[ConnectResult],
    probes: list[ProbeRecord] | None = None,
    who: str = "U0ASKER",
    text: str = "",
) -> Evidence:
    req = Request(
        text=text or f"why can't I connect to {host}:{port}",
        target=host,
        address=address,
        port=port,
        vantages=[c.vantage for c in connect],
        who=who,
    )
    return Evidence(
        request=req,
        target=HostEvidence(host=host, address=address, probes=probes or []),
        connect=connect,
        started_at=1_700_000_000.0,
        duration_s=6.4,
    )


def one_finding() -> Outcome:
    """localhost:1 — nothing listens (the README's quick start)."""
    ev = _evidence(
        "localhost", "127.0.0.1", 1, [_connect("bot", "localhost", "127.0.0.1", 1, ["refused"] * 10)], who="U0ASKER"
    )
    f = Finding(
        id="port-not-listening",
        severity="critical",
        title="Nothing listens on port 1 on localhost",
        explanation="Every connect attempt was refused and `ss -ltn` shows no listener on port 1.",
        evidence=["bot: 10/10 refused (ECONNREFUSED)", "listeners on localhost: 22, 5432 — none on 1"],
        fix=Fix(
            runtime="systemctl status <your-service>\nss -ltnp 'sport = :1'",
            app="Start the service, or point the client at the port it really listens on.",
        ),
        references=["https://man7.org/linux/man-pages/man8/ss.8.html"],
        score=100,
    )
    d = Diagnosis(
        verdict="localhost:1 refuses connections: nothing listens on port 1",
        findings=[f],
        cleared=[r for r in ALL_RULES if r != "port-not-listening"][:8],
    )
    return Outcome(
        kind="diagnosis",
        request=ev.request,
        evidence=ev,
        diagnosis=d,
        incident=IncidentInfo(id=7, status="open", askers=1),
    )


def many_findings(n: int = 40) -> Outcome:
    """db01:5432 with far more findings than one Slack message holds."""
    vantages = [
        _connect("office", "office1", "198.18.0.10", 5432, ["ok", "ok", "ok", "timeout"] + ["timeout"] * 6),
        _connect("dc", "app01", "198.18.0.10", 5432, ["ok"] * 10, latency=0.3),
        _connect("bot", "whycant", "198.18.0.10", 5432, ["ok"] * 9 + ["reset"], latency=0.9),
    ]
    ev = _evidence("db01", "198.18.0.10", 5432, vantages, text="why can't I connect to db01:5432 from office")
    findings = [
        Finding(
            id="tcp-tw-recycle",
            severity="critical",
            title="tcp_tw_recycle drops SYNs from clients behind NAT",
            explanation="net.ipv4.tcp_tw_recycle=1 with timestamps on: the office NAT shares one address, "
            "so its SYNs fail the per-peer PAWS check.",
            evidence=[
                "net.ipv4.tcp_tw_recycle = 1",
                "net.ipv4.tcp_timestamps = 1",
                "TcpExt.PAWSPassive +37 in 5.0s",
                "office: 3/10 connected, 7 timeouts",
            ],
            fix=Fix(
                runtime="sysctl -w net.ipv4.tcp_tw_recycle=0",
                persistent="echo 'net.ipv4.tcp_tw_recycle = 0' > /etc/sysctl.d/60-whycant.conf\nsysctl --system",
                rollback="sysctl -w net.ipv4.tcp_tw_recycle=1\nrm /etc/sysctl.d/60-whycant.conf",
            ),
            references=["https://vincent.bernat.ch/en/blog/2014-tcp-time-wait-state-linux"],
            score=95,
        ),
    ]
    for i in range(1, n):
        sev = ["critical", "warning", "info"][i % 3]
        big = i == 3  # the first one shown: long enough to be cut inside its sections (evidence, fix)
        findings.append(
            Finding(
                id=f"synthetic-rule-{i:02d}",
                severity=sev,
                title=f"Synthetic finding number {i} with a long title",
                explanation="A generated finding to push the message over Block Kit's limits.",
                evidence=[f"TcpExt.Counter{j} +{j * 11} in 5.0s" for j in range(1, 110 if big else 3)],
                fix=Fix(
                    runtime="\n".join(f"sysctl -w net.synthetic.key{j}={j}" for j in range(1, 90 if big else 2)),
                    persistent="sysctl --system",
                    rollback="sysctl -w net.synthetic.key1=0",
                ),
                score=50 - i,
            )
        )
    d = Diagnosis(
        verdict="db01:5432 drops SYNs from the office: tcp_tw_recycle is on behind NAT",
        findings=findings,
        cleared=ALL_RULES[1:] + [f"site-rule-{i:03d}" for i in range(150)],
    )
    return Outcome(
        kind="diagnosis",
        request=ev.request,
        evidence=ev,
        diagnosis=d,
        incident=IncidentInfo(
            id=42,
            status="open",
            joined=True,
            askers=3,
            askers_text="3 people asked about db01:5432 in the last 10 minutes",
        ),
    )


def partial() -> Outcome:
    """Target unreachable over SSH; connect results stand on their own."""
    probes = [
        ProbeRecord(
            host="db01",
            probe="counters_t0",
            command="cat /proc/net/netstat /proc/net/snmp",
            error="ssh: connection refused",
            error_kind="connect",
        ),
        ProbeRecord(
            host="db01",
            probe="counters_t1",
            command="cat /proc/net/netstat /proc/net/snmp",
            error="ssh: connection refused",
            error_kind="connect",
        ),
        ProbeRecord(
            host="db01", probe="listeners", command="ss -ltnH", error="ssh: connection refused", error_kind="connect"
        ),
    ]
    vantages = [
        _connect("office", "office1", "198.18.0.10", 5432, ["timeout"] * 10),
        _connect("dc", "app01", "198.18.0.10", 5432, [], error="ssh: host key verification failed"),
        _connect("bot", "whycant", "198.18.0.10", 5432, ["ok"] * 10),
    ]
    ev = _evidence("db01", "198.18.0.10", 5432, vantages, probes=probes)
    findings = [
        Finding(
            id="filtered-from-vantage",
            severity="warning",
            title="SYNs from office are dropped on the way",
            explanation="office times out on every attempt while the bot host connects: "
            "a firewall or path drops SYNs from office.",
            evidence=["office: 0/10 connected, 10 timeouts", "bot: 10/10 connected, p50 0.9 ms"],
            fix=Fix(
                runtime="# on db01 and the firewalls between office and db01\n"
                "iptables -S | grep 5432\nnft list ruleset | grep 5432"
            ),
            confidence=0.8,
            score=60,
        ),
        Finding(
            id="target-ssh-unreachable",
            severity="info",
            title="db01 could not be probed over SSH",
            explanation="Counters and listeners on db01 are unknown; the connect results stand on their own.",
            evidence=["ssh db01: connection refused"],
            score=10,
        ),
    ]
    d = Diagnosis(
        verdict="db01:5432 is filtered from office (SSH to db01 failed, evidence partial)",
        findings=findings,
        cleared=["port-not-listening"],
        skipped=["listen-queue-overflow", "syn-queue-overflow", "tcp-tw-recycle"],
        partial=True,
    )
    return Outcome(
        kind="diagnosis",
        request=ev.request,
        evidence=ev,
        diagnosis=d,
        incident=IncidentInfo(id=None, storage_error="incident not stored: database unavailable (retrying)"),
    )


INJECT = "<!channel> <https://evil.example|db01> & <@U0BOSS>"


def hostile() -> Outcome:
    """Everything a user or host controls carries an injection attempt."""
    ev = _evidence(
        f"db01{INJECT}",
        f"10.0.0.1{INJECT}",
        5432,
        [_connect(f"office{INJECT}", f"office1{INJECT}", "10.0.0.1", 5432, ["refused"] * 3, error=f"err {INJECT}")],
        probes=[ProbeRecord(host=f"db01{INJECT}", probe="sysctls", command="x", error=f"boom {INJECT}")],
        who=f"U1{INJECT}",
        text=f"why can't I connect {INJECT}",
    )
    f = Finding(
        id=f"port-not-listening{INJECT}",
        severity="critical",
        title=f"title {INJECT}",
        explanation=f"explanation {INJECT}",
        evidence=[f"evidence {INJECT}"],
        fix=Fix(runtime=f"echo {INJECT}\n```\n{INJECT}", app=f"app {INJECT}"),
        references=[f"ref {INJECT}"],
    )
    d = Diagnosis(verdict=f"verdict {INJECT}", findings=[f], cleared=[f"rule{INJECT}"], skipped=[f"s{INJECT}"])
    return Outcome(
        kind="diagnosis",
        request=ev.request,
        evidence=ev,
        diagnosis=d,
        text=f"note {INJECT}",
        incident=IncidentInfo(id=9, status="open", askers_text=f"asked {INJECT}"),
    )


CASES = {"one_finding": one_finding, "many_findings": many_findings, "partial": partial}
