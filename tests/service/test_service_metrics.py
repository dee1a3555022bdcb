"""The metrics /metrics gains: probe latency by probe and host group, SSH errors by kind (once per host),
Slack API retries (against the stand-in), drift counts by kind, watches."""

from __future__ import annotations

from prometheus_client import REGISTRY

from bot import metrics
from bot.slack.client import call, make_client
from probes.evidence import ConnectResult, Evidence, HostEvidence, ProbeRecord


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class _Dx:
    partial, findings = True, []


def test_probe_seconds_by_probe_and_group_and_ssh_errors_once_per_host():
    ev = Evidence(
        target=HostEvidence(
            host="db01",
            probes=[
                ProbeRecord(host="db01", probe="sysctls", command="read", duration_s=0.3),
                ProbeRecord(
                    host="db01",
                    probe="listeners",
                    command="ss",
                    duration_s=7.0,
                    error="auth: denied",
                    error_kind="auth",
                ),
                ProbeRecord(host="db01", probe="facts", command="read", error="skipped: denied", error_kind="auth"),
            ],
        ),
        connect=[
            ConnectResult(
                vantage="office",
                vantage_host="ws01",
                target_address="198.18.0.1",
                port=5432,
                error="timeout: no banner",
                error_kind="timeout",
                duration_s=2.0,
            )
        ],
    )
    before = {k: value("whycant_ssh_errors_total", kind=k) for k in ("auth", "timeout")}
    n_sys = value("whycant_probe_seconds_count", probe="sysctls", group="db")
    slow = value("whycant_probe_seconds_bucket", probe="listeners", group="db", le="5.0")
    n_listen = value("whycant_probe_seconds_count", probe="listeners", group="db")
    metrics.observe(ev, _Dx(), group=metrics.primary_group(("db", "prod")))
    assert value("whycant_probe_seconds_count", probe="sysctls", group="db") == n_sys + 1
    assert value("whycant_probe_seconds_count", probe="listeners", group="db") == n_listen + 1
    assert value("whycant_probe_seconds_bucket", probe="listeners", group="db", le="5.0") == slow  # 7s > 5s
    assert value("whycant_ssh_errors_total", kind="auth") == before["auth"] + 1  # two failed probes, one host
    assert value("whycant_ssh_errors_total", kind="timeout") == before["timeout"] + 1
    assert metrics.primary_group(()) == "ungrouped"


def test_drift_gauge_by_kind_and_its_ssh_errors():
    before = value("whycant_ssh_errors_total", kind="host-key")
    metrics.observe_drift(
        {
            "drifts": [{"kind": "outlier"}, {"kind": "outlier"}, {"kind": "baseline"}],
            "errors": [
                {"host": "db02", "error": "host key mismatch", "kind": "host-key"},
                {"host": "db03", "error": "parse", "kind": "parse"},
            ],
        }
    )
    assert value("whycant_ssh_errors_total", kind="host-key") == before + 1
    assert value("whycant_drift_items", kind="outlier") == 2
    assert value("whycant_drift_items", kind="baseline") == 1
    assert value("whycant_drift_items", kind="persisted") == 0
    metrics.observe_drift({"drifts": []})
    assert value("whycant_drift_items", kind="outlier") == 0


def test_watches_gauge_is_exported():
    assert REGISTRY.get_sample_value("whycant_watches") == 0


async def test_slack_retries_are_counted(standin):
    client = make_client("xoxb-standin-bot", base_url=standin.api_url)
    before = value("whycant_slack_api_retries_total", reason="server_error")
    before_rl = value("whycant_slack_api_retries_total", reason="ratelimited")
    standin.fail("chat.postMessage", "500", times=1)
    standin.fail("chat.postMessage", "ratelimited", times=1, retry_after=0)
    r = await call("chat.postMessage", client.chat_postMessage(channel="C0OPS", text="hi"))
    assert r is not None and r["ok"]
    assert value("whycant_slack_api_retries_total", reason="server_error") == before + 1
    assert value("whycant_slack_api_retries_total", reason="ratelimited") == before_rl + 1
