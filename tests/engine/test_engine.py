"""diagnose(): ranking, multi-vantage localisation, partial evidence, rule errors, verdicts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.engine import build_context, build_evidence, diagnose, diagnose_detail, load_rules
from bot.engine.loader import parse_rule_text

RULES = load_rules([])
REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "docs" / "catalog.md"

CONTRACT_IDS = [
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
CATALOG_IDS = CONTRACT_IDS + [
    "conntrack-insert-failed",
    "conntrack-invalid",
    "rp-filter-drops",
    "forwarding-off",
    "defer-accept-drops",
    "tcp-memory-pressure",
    "orphan-sockets",
    "backlog-drop",
    "paws-rejects",
    "pmtu-blackhole",
    "idle-nat-timeout",
    "stale-half-open",
    "app-abortive-close",
    "udp-rcvbuf-errors",
    "udp-no-port",
    "netdev-backlog-drops",
    "neighbour-table-overflow",
    "fragment-reassembly-failures",
]


def ids(d):
    return [f.id for f in d.findings]


def diag(spec):
    return diagnose(build_evidence(spec), RULES)


def test_every_catalog_and_contract_id_has_a_rule():
    assert sorted(set(CATALOG_IDS) - set(RULES.ids)) == []
    rows = re.findall(r"^\|\s*\**([a-z][a-z0-9-]+)\**\s*\|", CATALOG.read_text(), re.M)
    assert set(CATALOG_IDS) <= set(rows)  # the catalog documents every id this test knows
    assert sorted(set(rows) - {"id"} - set(RULES.ids)) == []  # and every id it documents has a rule
    contract = re.findall(r"^\|\s*\*\*([a-z][a-z0-9-]+)\*\*\s*\|", CATALOG.read_text(), re.M)
    assert set(contract) == set(CONTRACT_IDS)
    architecture = (REPO / "docs" / "architecture.md").read_text()
    assert all(f"`{i}`" in architecture for i in CONTRACT_IDS)


# ---- multi-vantage localisation -------------------------------------------------------------
def test_refused_everywhere_without_listener_is_port_not_listening():
    d = diag({"listeners": ["0.0.0.0:22 0/128"], "connect": {"office": {"refused": 10}, "dc": {"refused": 10}}})
    assert ids(d)[0] == "port-not-listening"
    assert "rejected-from-vantage" not in ids(d)


def test_refused_remote_ok_local_with_loopback_listener():
    d = diag(
        {
            "listeners": ["127.0.0.1:5432 0/128"],
            "connect": {"office": {"refused": 10}, "dc": {"refused": 10}, "db01": {"ok": 10, "local": True}},
        }
    )
    assert ids(d)[0] == "listening-on-loopback-only"
    assert not {"port-not-listening", "rejected-from-vantage"} & set(ids(d))


def test_timeouts_from_one_vantage_is_filtered():
    d = diag(
        {
            "listeners": ["0.0.0.0:5432 0/128"],
            "delta": {"TcpExt.ListenDrops": 0},
            "connect": {"office": {"timeout": 10}, "dc": {"ok": 10}},
        }
    )
    assert ids(d) == ["filtered-from-vantage"]
    assert d.verdict.startswith("db01:5432 is unreachable from office")


def test_nat_vantage_with_recycle_ranks_recycle_first_and_suppresses_filtered():
    d = diag(
        {
            "sysctls": {"net.ipv4.tcp_tw_recycle": 1},
            "kernel": "3.10.0",
            "connect": {"office": {"ok": 4, "timeout": 6, "nat": True}, "dc": {"ok": 10}},
        }
    )
    assert ids(d)[0] == "tcp-tw-recycle"
    assert "filtered-from-vantage" not in ids(d)


def test_refused_from_one_vantage_with_listener_is_rejected():
    d = diag({"listeners": ["0.0.0.0:5432 0/128"], "connect": {"office": {"refused": 10}, "dc": {"ok": 10}}})
    assert ids(d) == ["rejected-from-vantage"]


def test_unreachable_and_addr_not_avail():
    d = diag({"connect": {"office": {"unreachable": 10}, "app01": {"addr_not_avail": 10}, "dc": {"ok": 10}}})
    assert {"unreachable-from-vantage", "ephemeral-ports-exhausted"} <= set(ids(d))


# ---- verdicts, partial evidence, errors -----------------------------------------------------
def test_no_fault_verdict_lists_what_was_checked():
    d = diag(
        {
            "kernel": "5.15.0",
            "mem_gb": 16,
            "sysctls": {"net.core.somaxconn": 4096},
            "delta": {"TcpExt.ListenOverflows": 0},
            "listeners": ["0.0.0.0:5432 0/4096"],
            "sockstat": {"TCP.tw": 10, "TCP.orphan": 0},
            "conntrack": {"count": 10, "max": 262144, "stats": {}},
            "connect": {"office": {"ok": 10}, "dc": {"ok": 10}},
        }
    )
    assert d.findings == []
    assert d.verdict.startswith("No fault found on db01:5432 — checked: ")
    assert "accept queue" in d.verdict and "listener" in d.verdict
    assert not d.partial and not d.skipped


def test_probe_failure_makes_it_partial_never_all_clear():
    d = diag(
        {
            "sysctls": {"net.core.somaxconn": 4096},
            "connect": {"office": {"ok": 10}},
            "probe_errors": [{"probe": "counters_t0", "error": "permission denied", "kind": "command"}],
        }
    )
    assert d.partial
    assert "No fault found" not in d.verdict
    assert "partial" in d.verdict.lower()
    assert "listen-queue-overflow" in d.skipped  # could not be evaluated, not cleared
    assert "listen-queue-overflow" not in d.cleared


def test_ssh_down_is_partial_with_connect_results_standing():
    d = diag({"ssh_down": True, "connect": {"office": {"refused": 10}, "dc": {"refused": 10}}})
    assert d.partial
    assert {"port-not-listening", "target-ssh-unreachable"} <= set(ids(d))
    assert ids(d)[0] == "port-not-listening"
    assert "partial: no SSH to db01" in d.verdict
    assert "tcp-tw-recycle" in d.skipped


def test_a_rule_that_raises_is_a_rule_error_not_a_crash():
    bad = parse_rule_text(
        "id: boom\ntitle: Boom\nseverity: critical\nwhen: (1 / (port - port)) > 0\nexplain: x\n",
        "boom.yaml",
        stem="boom",
    )
    rules = [bad] + list(RULES)
    detail = diagnose_detail(build_evidence({"sysctls": {"net.ipv4.tcp_tw_recycle": 1}}), rules)
    assert ids(detail.diagnosis)[0] == "tcp-tw-recycle"
    assert "boom" in detail.diagnosis.skipped
    assert detail.rule_errors[0]["id"] == "boom" and "ZeroDivisionError" in detail.rule_errors[0]["error"]
    assert "failed to evaluate" in detail.diagnosis.verdict


def test_ranking_severity_then_score_then_confidence():
    d = diag(
        {
            "mem_gb": 64,
            "sysctls": {"net.core.somaxconn": 128},
            "delta": {"TcpExt.ListenOverflows": 20, "Udp.NoPorts": 50, "TcpExt.TCPTimeWaitOverflow": 5},
        }
    )
    sev = {"critical": 0, "warning": 1, "info": 2}
    ranks = [sev[f.severity] for f in d.findings]
    assert ranks == sorted(ranks)
    assert ids(d)[0] == "listen-queue-overflow" and ids(d)[-1] == "udp-no-port"


def test_single_snapshot_uses_absolute_counters_with_lower_confidence():
    d = diag({"counters": {"TcpExt.ListenOverflows": 500000}})
    f = next(f for f in d.findings if f.id == "listen-queue-overflow")
    assert f.confidence <= 0.6 and "since boot" in f.evidence[0]


def test_findings_are_json_serialisable_contract_dicts():
    d = diag({"sysctls": {"net.ipv4.tcp_tw_recycle": 1}})
    json.dumps([f.contract_dict() for f in d.findings])
    c = d.findings[0].contract_dict()
    assert set(c["fix"]) >= {"runtime", "persistent", "rollback"}


# ---- context ---------------------------------------------------------------------------------
def test_context_plain_data():
    ev = build_evidence(
        {
            "kernel": "3.10.0-1160.el7.x86_64",
            "mem_gb": 512,
            "cpus": 64,
            "sysctls": {"net.ipv4.ip_local_port_range": [32768, 60999]},
            "delta": {"TcpExt.ListenDrops": 10},
            "window_s": 5.0,
            "listeners": ["0.0.0.0:5432 1/128", "127.0.0.1:5432 0/128"],
            "connect": {"office": {"ok": 3, "timeout": 7, "nat": True}, "db01": {"ok": 10, "local": True}},
        }
    )
    ctx = build_context(ev)
    assert ctx["kernel"] == (3, 10, 0) and ctx["mem_gb"] == 512.0 and ctx["cpus"] == 64
    assert ctx["target"] == {
        "name": "db01",
        "address": "198.18.0.10",
        "port": 5432,
        "label": "db01:5432",
        "hostport": "198.18.0.10:5432",
    }
    assert ctx["delta"]["TcpExt.ListenDrops"] == 10 and ctx["rate"]["TcpExt.ListenDrops"] == 2.0
    assert ctx["has_delta"] and ctx["window_s"] == 5.0
    assert "net.ipv4.tcp_tw_recycle" not in ctx["sysctl"] and ctx["sysctl_get"]("net.ipv4.tcp_tw_recycle") is None
    assert ctx["listener"]["address"] == "0.0.0.0" and len(ctx["listeners_on_port"]) == 2
    assert ctx["vantages_with"]("timeout") == ["office"] and ctx["nat_vantages"] == ["office"]
    assert ctx["local_vantage"] == "db01" and ctx["remote_vantages"] == ["office"]
    assert ctx["connect"]["office"]["timeout"] == 7 and ctx["connect"]["office"]["attempts"] == 10
    assert "conntrack" in ctx["missing"] and "sockstat" in ctx["missing"]


@pytest.mark.parametrize(("mem_gb", "rate", "want"), [(4, 0, 4096), (64, 0, 8192), (512, 0, 65535), (16, 5000, 16384)])
def test_scale_backlog(mem_gb, rate, want):
    from bot.engine.sizing import scale_backlog

    assert scale_backlog(mem_gb, rate, 128) == want


def test_conntrack_max_scales_with_memory_and_is_capped():
    from bot.engine.sizing import conntrack_max_for

    assert conntrack_max_for(8) == 524288
    assert conntrack_max_for(512) == 1 << 22
