"""A drift report for the golden files: every lens, a hostile value, waivers, errors, one busy host."""

from __future__ import annotations

from bot.outcome import Outcome

INJECT = "<!channel> <@U0BOSS> *bold* `tick` & <https://evil.example|db01>"


def _d(host: str, key: str, value, expected: str, kind: str, **kw) -> dict:
    return {
        "host": host,
        "key": key,
        "value": value,
        "expected": expected,
        "kind": kind,
        "finding": kw.get("finding"),
        "severity": kw.get("severity", "warning"),
        "fix": kw.get("fix"),
        "detail": kw.get("detail"),
        **({"waived": kw["waived"]} if "waived" in kw else {}),
    }


def drift_report() -> dict:
    drifts = [
        _d(
            "db01",
            "net.ipv4.tcp_tw_recycle",
            1,
            "0 (tcp_tw_recycle drops SYNs from clients behind NAT)",
            "known-bad",
            finding="tcp-tw-recycle",
            severity="critical",
            fix="sysctl -w net.ipv4.tcp_tw_recycle=0",
            detail="net.ipv4.tcp_tw_recycle=1 with timestamps on: SYNs from NAT'd clients fail the PAWS check",
        ),
        _d(
            "db01",
            "net.core.somaxconn",
            128,
            ">= 4096",
            "baseline",
            detail="group db baseline",
            fix="sysctl -w net.core.somaxconn=4096",
        ),
        _d("db02", "net.ipv4.tcp_timestamps", 0, "1 (8 of 9 peers in group db)", "outlier"),
        _d("db03", "kernel.hostname", INJECT, "db03", "changed", detail="was db03 on 2026-11-25"),
        _d(
            "db04",
            "net.ipv4.ip_local_port_range",
            [32768, 60999],
            "1024 65000 (/etc/sysctl.d/60-ports.conf)",
            "persisted",
            fix="sysctl --system",
        ),
    ]
    # one busy host: its drifts spill over one section, only the first of each key gets a Waive button
    drifts += [
        _d(
            "web01",
            f"net.ipv4.conf.eth{i}.rp_filter",
            1,
            "2",
            "baseline",
            detail=f"group web baseline; interface eth{i} added by the cloud-init network config",
            fix=f"sysctl -w net.ipv4.conf.eth{i}.rp_filter=2",
        )
        for i in range(20)
    ]
    waived = [
        _d(
            "db05",
            "net.core.somaxconn",
            1024,
            ">= 4096",
            "baseline",
            waived={"until": "2027-01-31T23:59:59+00:00", "who": "alice", "reason": "OPS-1 resize planned"},
        )
    ]
    errors = [
        {"host": "db06", "error": "ssh: connection refused", "kind": "connect"},
        {"host": "db07", "probe": "persisted_sysctls", "error": f"cannot read {INJECT}"},
    ]
    return {"hosts": 9, "drifts": drifts, "waived": waived, "errors": errors, "taken_at": "2026-12-02T09:00:00+00:00"}


def drift_outcome() -> Outcome:
    return Outcome(kind="drift", data=drift_report())
