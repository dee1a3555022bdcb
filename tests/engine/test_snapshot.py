"""Snapshot judgement: since-boot counters weighed by the traffic they saw; severity expressions."""

from __future__ import annotations

import pytest

from bot.engine import diagnose
from bot.engine.cases import build_evidence
from bot.engine.context import build_context
from bot.engine.loader import RuleLoadError, parse_rule_text
from bot.engine.snapshot import describe, judge


@pytest.mark.parametrize(
    "counters, significant, basis",
    [
        ({"TcpExt.ListenOverflows": 9, "Tcp.PassiveOpens": 3}, True, "ratio"),
        ({"TcpExt.ListenOverflows": 9, "Tcp.PassiveOpens": 4_000_000}, False, "ratio"),
        ({"TcpExt.ListenOverflows": 5_191_585, "Tcp.PassiveOpens": 3_349_020_159}, True, "ratio"),  # 0.16 %
        ({"TcpExt.ListenOverflows": 9}, True, "unjudged"),
        ({"TcpExt.ListenOverflows": 0, "Tcp.PassiveOpens": 3}, False, "ratio"),
        ({"TcpExt.ListenOverflows": 2, "Tcp.PassiveOpens": 0}, True, "ratio"),
    ],
)
def test_judge_by_share_of_traffic(counters, significant, basis):
    j = judge("TcpExt.ListenOverflows", counters, min_abs=1000)
    assert (j.significant, j.basis) == (significant, basis)


def test_counters_without_a_traffic_counter_keep_the_absolute_threshold():
    assert judge("TcpExt.TCPMTUPFail", {"TcpExt.TCPMTUPFail": 99}, 100).significant is False
    assert judge("TcpExt.TCPMTUPFail", {"TcpExt.TCPMTUPFail": 100}, 100).basis == "absolute"


def test_describe_gives_share_uptime_rate_or_what_would_confirm():
    j = judge("Udp.InErrors", {"Udp.InErrors": 500, "Udp.InDatagrams": 100_000}, 1)
    assert (
        describe(j, uptime_s=10 * 86400)
        == "= 0.005 per datagram received (Udp.InDatagrams 100000), 50/day over 10.0 days up"
    )
    u = judge("TcpExt.PruneCalled", {"TcpExt.PruneCalled": 7}, 1)
    assert "no Tcp.InSegs" in describe(u) and "would confirm" in describe(u)


def test_rising_is_unchanged_for_deltas():
    ctx = build_context(build_evidence({"delta": {"TcpExt.ListenOverflows": 1}}))
    assert ctx["rising"]("TcpExt.ListenOverflows", 1, 1000) and ctx["judged"]("TcpExt.ListenOverflows") == "delta"
    ctx = build_context(build_evidence({"counters": {"TcpExt.ListenOverflows": 1, "Tcp.PassiveOpens": 10}}))
    assert ctx["rising"]("TcpExt.ListenOverflows", 1, 1000) and ctx["unjudged"]("TcpExt.ListenOverflows") == []


RULE = """\
id: sev-test
title: t
severity: {sev}
requires: [counters]
when: "true"
explain: x
"""


def test_severity_expression_is_evaluated_per_finding():
    rule = parse_rule_text(RULE.format(sev="\"'critical' if has_delta else 'warning'\""), "sev-test.yaml")
    assert rule.severity == "critical"  # the nominal severity: the first one the expression names
    snap = diagnose(build_evidence({"counters": {"Tcp.InSegs": 1}}), [rule]).findings[0]
    live = diagnose(build_evidence({"delta": {"Tcp.InSegs": 1}}), [rule]).findings[0]
    assert (snap.severity, live.severity) == ("warning", "critical")


def test_a_severity_expression_giving_nonsense_is_a_rule_error():
    rule = parse_rule_text(RULE.format(sev="\"'critical' if false else 'meh'\""), "sev-test.yaml")
    d = diagnose(build_evidence({"counters": {"Tcp.InSegs": 1}}), [rule])
    assert not d.findings and "sev-test" in d.skipped


def test_a_severity_that_names_no_level_is_a_load_error():
    with pytest.raises(RuleLoadError, match="severity"):
        parse_rule_text(RULE.format(sev="urgent"), "sev-test.yaml")
