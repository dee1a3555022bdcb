"""A real Prometheus scrapes a real ``whycant serve``'s /metrics; the example rules in docs/ load and
evaluate, and a rule over a whycant metric fires. ``promtool`` checks the rules file."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp
import pytest
import yaml

from tests.service.procs import REPO, closed_port, need, serve_config, serve_env, start_prometheus, start_serve

pytestmark = pytest.mark.slow
RULES = REPO / "docs" / "alerting-rules.yml"


def test_example_rules_pass_promtool():
    r = subprocess.run([need("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


async def api(base: str, path: str, **params: str) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + path, params=params) as r:
            body = await r.json()
            assert r.status == 200 and body["status"] == "success", body
            return body["data"]


async def test_prometheus_scrapes_metrics_and_rules_evaluate(standin, tmp_path):
    rules = tmp_path / "rules.yml"
    docs_rules = yaml.safe_load(RULES.read_text())
    docs_rules["groups"].append(
        {
            "name": "whycant-test",
            "rules": [
                {"alert": "WhycantIsReady", "expr": "whycant_ready == 1"},  # fires at once while serve is ready
                {"record": "whycant:alert_notifications:sum", "expr": "sum(whycant_alert_notifications_total)"},
            ],
        }
    )
    rules.write_text(yaml.safe_dump(docs_rules))
    cfg = serve_config(tmp_path, port=closed_port())
    serve = await start_serve(tmp_path, cfg, serve_env(standin.api_url))
    prom = None
    try:
        async with aiohttp.ClientSession() as s:  # one unauthorized webhook: a counter to see in Prometheus
            async with s.post(serve.base + "/alertmanager", json={}) as r:
                assert r.status == 401
            async with s.get(serve.base + "/readyz") as r:
                assert r.status == 200
        prom = await start_prometheus(tmp_path, f"127.0.0.1:{serve.port}", rules)
        deadline = time.monotonic() + 45
        while True:
            alerts = (await api(prom.base, "/api/v1/alerts"))["alerts"]
            rec = (await api(prom.base, "/api/v1/query", query="whycant:alert_notifications:sum"))["result"]
            if any(a["labels"]["alertname"] == "WhycantIsReady" and a["state"] == "firing" for a in alerts) and rec:
                break
            assert time.monotonic() < deadline, f"rule did not fire: {alerts}\n{prom.output()[-2000:]}"
            await asyncio.sleep(0.5)
        assert float(rec[0]["value"][1]) >= 1
        groups = (await api(prom.base, "/api/v1/rules"))["groups"]
        evaluated = [r for g in groups for r in g["rules"]]
        assert len(evaluated) == 13
        assert all(r["health"] == "ok" for r in evaluated), [(r["name"], r.get("lastError")) for r in evaluated]
        up = (await api(prom.base, "/api/v1/query", query='up{job="whycant"}'))["result"]
        assert up and up[0]["value"][1] == "1"
        for name in ("whycant_open_incidents", "whycant_watches", "whycant_ready"):
            got = (await api(prom.base, "/api/v1/query", query=name))["result"]
            assert got, f"{name} not scraped"
        unauth = (
            await api(prom.base, "/api/v1/query", query='whycant_alert_notifications_total{result="unauthorized"}')
        )["result"]
        assert float(unauth[0]["value"][1]) == 1
    finally:
        if prom is not None:
            await prom.stop()
        await serve.stop()
