"""Pure lens tests: baseline expressions, outliers, changes, persisted, waivers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.drift.baseline import BaselineError, host_vars, judge, lens_baseline, parse_expectation
from bot.drift.known_bad import findings_to_drifts
from bot.drift.lenses import lens_changed, lens_outlier, lens_persisted
from bot.drift.model import Drift
from bot.drift.waivers import WaiverMatch, apply_waivers
from probes.evidence import Facts

HV_512 = host_vars(Facts(mem_total_kb=512 * 1024 * 1024, cpus=64, kernel_release="3.10.0-1160.el7.x86_64"))


@pytest.mark.parametrize(
    "spec,value,ok",
    [
        (0, 0, True),
        (0, 1, False),
        ("0", 1, False),
        (">= 4096", 4096, True),
        (">= 4096", 128, False),
        ("> 4096", 4096, False),
        ("== 0", 0, True),
        ("== 0", 1, False),
        ("!= 1", 0, True),
        ("!= 1", 1, False),
        ("in [0, 1]", 1, True),
        ("in [0, 1]", 2, False),
        ("not in [2]", 1, True),
        ("<= 30", 60, False),
        ("4096 87380 6291456", [4096, 87380, 6291456], True),
        ([4096, 87380, 6291456], [4096, 87380, 6291457], False),
        ("== 1024 65535", [1024, 65535], True),
        ("value >= 1024 and value <= 65535", 2048, True),
        ("value[0] >= 10240", [32768, 60999], True),
        ("bbr", "bbr", True),
        ("bbr", "cubic", False),
    ],
)
def test_baseline_expressions(spec, value, ok):
    assert judge(parse_expectation(spec), value, HV_512).ok is ok


def test_memory_expression_spells_out_the_computed_side():
    j = judge(parse_expectation(">= mem_gb * 128"), 16192, HV_512)
    assert j.ok is False
    assert j.expected == ">= 65536 (mem_gb * 128)"
    assert judge(parse_expectation(">= max(4096, cpus * 64)"), 4096, HV_512).ok is True


def test_missing_facts_are_not_judged():
    j = judge(parse_expectation(">= mem_gb * 128"), 4096, host_vars(None, {}))
    assert j.ok is None and "mem_gb" in j.error


@pytest.mark.parametrize(
    "spec",
    [
        ">= ().__class__.__bases__[0].__subclasses__()",
        ">= {{ 7 }}",
        "value.__class__",
        ">= range(10**9) | length",
        ">= lipsum()",
        ">= 1 +",
        "",
    ],
)
def test_unsafe_or_broken_expressions_are_refused(spec):
    try:
        exp = parse_expectation(spec)
    except BaselineError:
        return
    j = judge(exp, 1, HV_512)
    assert j.ok is None


def test_lens_baseline_per_group_with_all_default():
    baselines = {
        "all": {"net.ipv4.tcp_tw_recycle": 0, "net.core.somaxconn": ">= 1024"},
        "db": {"net.core.somaxconn": ">= 4096", "net.ipv4.tcp_max_syn_backlog": ">= mem_gb * 128"},
    }
    sysctls = {"net.ipv4.tcp_tw_recycle": 1, "net.core.somaxconn": 2048, "net.ipv4.tcp_max_syn_backlog": 16192}
    drifts, problems = lens_baseline("db01", ["db"], sysctls, HV_512, baselines)
    assert problems == []
    got = {(d.key, d.expected) for d in drifts}
    assert got == {
        ("net.ipv4.tcp_tw_recycle", "== 0"),
        ("net.core.somaxconn", ">= 4096"),
        ("net.ipv4.tcp_max_syn_backlog", ">= 65536 (mem_gb * 128)"),
    }
    web, _ = lens_baseline("web1", ["web"], sysctls, HV_512, baselines)
    assert {d.key for d in web} == {"net.ipv4.tcp_tw_recycle"}  # somaxconn 2048 >= 1024 from "all"


def test_bad_baseline_is_an_error_naming_the_key():
    drifts, problems = lens_baseline(
        "db01", ["db"], {"net.core.somaxconn": 1}, HV_512, {"db": {"net.core.somaxconn": ">= __import__('os')"}}
    )
    assert not drifts and problems and "baselines.db.net.core.somaxconn" in problems[0]["error"]


def test_outlier_needs_three_peers_and_a_majority():
    vals = {f"db{i:02d}": {"net.ipv4.tcp_tw_recycle": 0} for i in range(1, 12)}
    vals["db12"] = {"net.ipv4.tcp_tw_recycle": 1}
    groups = {"db": sorted(vals)}
    out = lens_outlier(vals, groups)
    assert [(d.host, d.key, d.value, d.expected, d.kind) for d in out] == [
        ("db12", "net.ipv4.tcp_tw_recycle", 1, "== 0", "outlier")
    ]
    assert "11 of 12" in out[0].detail
    two = {"a": {"k.x": 0}, "b": {"k.x": 1}}
    assert lens_outlier(two, {"g": ["a", "b"]}) == []  # fewer than 3 reporting
    split = {"a": {"k.x": 0}, "b": {"k.x": 1}, "c": {"k.x": 2}, "d": {"k.x": 2}}
    assert lens_outlier(split, {"g": list(split)}) == []  # no strict majority


def test_outlier_auto_sized_keys_compare_same_size_peers_only():
    vals = {h: {"fs.file-max": 100} for h in ("a", "b", "c")}
    vals["big"] = {"fs.file-max": 900}
    sizes = {"a": (16, 8), "b": (16, 8), "c": (16, 8), "big": (512, 64)}
    assert lens_outlier(vals, {"g": list(vals)}, sizes) == []
    sizes["big"] = (16, 8)
    assert [d.host for d in lens_outlier(vals, {"g": list(vals)}, sizes)] == ["big"]


def test_changed_since_previous_snapshot():
    tue = datetime(2025, 11, 18, 9, 0, tzinfo=timezone.utc)
    out = lens_changed(
        "db01", {"net.core.somaxconn": 4096, "a.b": [1, 2]}, {"net.core.somaxconn": 65535, "a.b": "1\t2"}, tue
    )
    assert len(out) == 1
    d = out[0]
    assert (d.key, d.value, d.kind) == ("net.core.somaxconn", 4096, "changed")
    assert "65535 → 4096 since 2025-11-18" in d.detail
    assert lens_changed("db01", {"x.y": 1}, None) == []


def test_persisted_either_direction():
    running = {"net.core.somaxconn": 4096, "net.ipv4.tcp_tw_recycle": 0, "net.ipv4.tcp_rmem": [4096, 87380, 6291456]}
    persisted = {
        "net.core.somaxconn": (65535, "/etc/sysctl.d/90-db.conf"),
        "net.ipv4.tcp_tw_recycle": (1, "/etc/sysctl.conf"),
        "net.ipv4.tcp_rmem": ("4096 87380 6291456", "/etc/sysctl.d/10-net.conf"),
        "net.ipv4.conf.*.rp_filter": (2, "/usr/lib/sysctl.d/50-default.conf"),
        "net.ipv4.gone": (1, "/etc/sysctl.conf"),
    }
    out = lens_persisted("db01", running, persisted)
    assert {(d.key, d.value) for d in out} == {("net.core.somaxconn", 4096), ("net.ipv4.tcp_tw_recycle", 0)}
    assert all(d.kind == "persisted" for d in out)
    assert "from /etc/sysctl.d/90-db.conf" in next(d for d in out if d.key == "net.core.somaxconn").expected


def test_known_bad_maps_fix_assignments_to_keys():
    from bot.findings import Finding, Fix

    f = Finding(
        id="backlog-undersized",
        severity="warning",
        title="backlog too small",
        explanation="x",
        fix=Fix(runtime="sysctl -w net.core.somaxconn=65535\nsysctl -w net.ipv4.tcp_max_syn_backlog='131072'"),
    )
    out = findings_to_drifts("h", [f], {"net.core.somaxconn": 4096, "net.ipv4.tcp_max_syn_backlog": 16192})
    assert [(d.key, d.finding, d.kind) for d in out] == [
        ("net.core.somaxconn", "backlog-undersized", "known-bad"),
        ("net.ipv4.tcp_max_syn_backlog", "backlog-undersized", "known-bad"),
    ]
    assert out[1].expected.startswith("131072")


def test_waivers_until_expiry_and_group_scope():
    now = datetime(2025, 11, 20, tzinfo=timezone.utc)
    d1 = Drift("db01", "net.ipv4.tcp_tw_recycle", 1, "== 0", "baseline")
    d2 = Drift("db01", "net.core.somaxconn", 128, ">= 4096", "baseline")
    ws = [WaiverMatch("group:db", "net.ipv4.tcp_tw_recycle", now + timedelta(days=1), "legacy NAT-free LAN", "alice")]
    active, waived = apply_waivers([d1, d2], ws, {"db01": ("db",)}, now)
    assert [d.key for d in active] == ["net.core.somaxconn"]
    assert waived[0].waived["reason"] == "legacy NAT-free LAN"
    d1.waived = None
    active, waived = apply_waivers([d1, d2], ws, {"db01": ("db",)}, now + timedelta(days=2))
    assert len(active) == 2 and not waived
