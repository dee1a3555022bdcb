"""Alertmanager notifications → targets, channels, bounds and refusals (pure), and the webhook's
auth and input errors (real aiohttp server, in-process)."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from bot.alertmanager import AlertError, parse_notification, plan, target_of
from bot.config import parse_config
from bot.inventory import Inventory
from bot.slack.alerts import AlertIntake, Credentials
from bot.slack.http import start_http

HOSTS = {
    f"db{i:02d}": {"address": f"198.18.7.{i}", "services": {"postgres": 5432}, "groups": ["db"]} for i in range(1, 16)
}


def config(**am):
    return parse_config(
        {
            "hosts": {**HOSTS, "bot": {"address": "127.0.0.1", "transport": "local"}},
            "alertmanager": {
                "default_channel": "C0DEF",
                "routes": [
                    {"receiver": "dba", "match": {"team": "web"}, "channel": "C0WEB"},
                    {"receiver": "dba", "channel": "C0DBA"},
                    {"match": {"severity": "page"}, "channel": "C0PAGE"},
                ],
                **am,
            },
        }
    )


def alert(status="firing", **labels):
    return {"status": status, "labels": {"alertname": "A", **labels}, "startsAt": "2026-01-01T00:00:00Z"}


def note(*alerts, receiver="dba"):
    return {"version": "4", "status": "firing", "receiver": receiver, "alerts": list(alerts)}


@pytest.fixture
def inv():
    return Inventory.from_config(config())


@pytest.mark.parametrize(
    "labels,want",
    [
        ({"whycant_target": "db01:5432"}, ("db01", 5432, "postgres")),
        ({"whycant_target": "db01:postgres"}, ("db01", 5432, "postgres")),
        ({"instance": "198.18.7.2:9187"}, ("db02", 9187, None)),  # address → inventory host; the port as given
        ({"whycant_target": "db03:5432", "instance": "db04:5432"}, ("db03", 5432, "postgres")),  # whycant_target wins
    ],
)
def test_target_of(inv, labels, want):
    t = target_of(parse_notification(note(alert(**labels))).alerts[0], inv)
    assert (t.host, t.port, t.service) == want


@pytest.mark.parametrize(
    "labels,reason",
    [
        ({}, "no whycant_target or instance label"),
        ({"whycant_target": "db99:5432"}, "'db99' is not an inventory host"),
        ({"instance": "203.0.113.9:5432"}, "is not an inventory host"),
        ({"whycant_target": "db01"}, "has no port"),
        ({"whycant_target": "db01:redis"}, "db01 has no service 'redis'"),
        ({"whycant_target": "db01:5432; rm -rf /"}, "is not host:port"),
        ({"whycant_target": "db01:70000"}, "70000"),
    ],
)
def test_unknown_or_malformed_targets_are_refused_with_the_reason(inv, labels, reason):
    p = plan(parse_notification(note(alert(**labels))), inv, config())
    assert p.diagnose == [] and len(p.refused) == 1
    assert reason in p.refused[0][1]


def test_routes_by_receiver_then_labels_then_default(inv):
    cfg = config()
    p = plan(
        parse_notification(note(alert(whycant_target="db01:5432", team="web"), alert(whycant_target="db02:5432"))),
        inv,
        cfg,
    )
    assert [(i.target.host, i.channel) for i in p.diagnose] == [("db01", "C0WEB"), ("db02", "C0DBA")]
    p = plan(
        parse_notification(
            note(
                alert(whycant_target="db01:5432", severity="page"), alert(whycant_target="db02:5432"), receiver="other"
            )
        ),
        inv,
        cfg,
    )
    assert [(i.target.host, i.channel) for i in p.diagnose] == [("db01", "C0PAGE"), ("db02", "C0DEF")]


def test_no_channel_anywhere_is_a_refusal():
    cfg = parse_config({"hosts": HOSTS})
    p = plan(parse_notification(note(alert(whycant_target="db01:5432"))), Inventory.from_config(cfg), cfg)
    assert p.diagnose == [] and "no channel" in p.refused[0][1]


def test_a_big_group_is_bounded_to_one_diagnosis_per_target(inv):
    alerts = [alert(whycant_target=f"db{i % 15 + 1:02d}:5432", n=str(i)) for i in range(60)]
    p = plan(parse_notification(note(*alerts)), inv, config(max_targets=10))
    assert len(p.diagnose) == 10
    assert len({i.target for i in p.diagnose}) == 10
    assert sum(len(i.alerts) for i in p.diagnose) == 40  # 4 alerts per diagnosed target, joined
    assert len(p.skipped) == 20 and {t.host for _, t in p.skipped}.isdisjoint({i.target.host for i in p.diagnose})


def test_alerts_past_the_cap_are_refused_not_read(inv):
    alerts = [alert(whycant_target="db01:5432", n=str(i)) for i in range(1003)]
    p = plan(parse_notification(note(*alerts)), inv, config())
    assert len(p.diagnose) == 1 and len(p.diagnose[0].alerts) == 1000
    assert [r for _, r in p.refused] == ["more than 1000 alerts in one notification"] * 3


def test_resolved_alerts_are_not_diagnosed(inv):
    p = plan(
        parse_notification(
            note(alert("resolved", whycant_target="db01:5432"), alert("resolved", whycant_target="db99:1"))
        ),
        inv,
        config(),
    )
    assert p.diagnose == [] and p.refused == []
    assert [(a.name, t.host if t else None, c) for a, t, c in p.resolved] == [("A", "db01", "C0DBA"), ("A", None, None)]


@pytest.mark.parametrize(
    "body,msg",
    [
        ([], "expected a JSON object"),
        ({"status": "firing", "receiver": "x"}, "alerts: Field required"),
        ({"version": "3", "status": "firing", "receiver": "x", "alerts": []}, "unsupported notification version '3'"),
        ({"status": "burning", "receiver": "x", "alerts": []}, "status"),
    ],
)
def test_bad_notifications_name_the_field(body, msg):
    with pytest.raises(AlertError, match=None) as e:
        parse_notification(body)
    assert msg in str(e.value)


def test_fingerprint_claims_are_stable_and_bounded():
    a = parse_notification(note({**alert(whycant_target="db01:5432"), "fingerprint": "x" * 500})).alerts[0]
    b = parse_notification(note({**alert(whycant_target="db01:5432"), "fingerprint": "x" * 500})).alerts[0]
    assert a.claim_id() == b.claim_id() and len(a.claim_id()) <= 128
    c = parse_notification(note(alert(whycant_target="db01:5432"))).alerts[0]
    assert c.key() and c.claim_id() != a.claim_id() and c.claim_id("resolved") != c.claim_id()


# ---------------------------------------------------------------- auth, over real HTTP
def _basic(user: str, pw: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


@pytest.mark.parametrize(
    "creds,header,ok",
    [
        (Credentials(token="t0k"), "Bearer t0k", True),
        (Credentials(token="t0k"), "Bearer nope", False),
        (Credentials(token="t0k"), None, False),
        (Credentials(token="t0k"), _basic("alertmanager", "t0k"), False),  # no password configured
        (Credentials(password="pw"), _basic("alertmanager", "pw"), True),
        (Credentials(password="pw"), _basic("mallory", "pw"), False),
        (Credentials(password="pw"), "Basic !!!", False),
        (Credentials(), "Bearer ", False),  # nothing configured: everything refused
    ],
)
def test_credentials(creds, header, ok):
    assert (creds.check(header) is None) is ok


class _Service:
    def __init__(self, cfg):
        self.inventory = Inventory.from_config(cfg)
        self.diagnosed: list = []

    async def claim_event(self, _id):
        return True

    async def diagnose(self, request, **kw):  # pragma: no cover - never reached by these requests
        self.diagnosed.append(request)
        raise AssertionError("must not probe")


class _FrontEnd:
    progress_interval, progress_updates = 0.0, False

    def __init__(self):
        self.spawned: list = []

    def spawn(self, coro):
        self.spawned.append(coro)
        coro.close()


async def test_webhook_http_errors_and_summary():
    cfg = config()
    svc, fe = _Service(cfg), _FrontEnd()
    intake = AlertIntake(svc, fe, None, cfg, Credentials(token="t0k"))  # type: ignore[arg-type]
    runner, port = await start_http(None, 0, "127.0.0.1", alerts=intake.handle)
    url = f"http://127.0.0.1:{port}/alertmanager"
    auth = {"Authorization": "Bearer t0k"}
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(url, json=note(alert(whycant_target="db01:5432"))) as r:
                assert r.status == 401 and "missing Authorization" in (await r.json())["error"]
                assert "Bearer" in r.headers["WWW-Authenticate"]
            async with s.post(url, data=b"{not json", headers=auth) as r:
                assert r.status == 400 and "not JSON" in (await r.json())["error"]
            async with s.post(url, json={"alerts": []}, headers=auth) as r:
                assert r.status == 400 and "status" in (await r.json())["error"]
            body = note(
                alert(whycant_target="db01:5432"),
                alert(whycant_target="db01:5432", x="2"),
                alert(whycant_target="nope:1"),
            )
            async with s.post(url, data=json.dumps(body), headers=auth) as r:
                out = await r.json()
            assert r.status == 200
            assert [d["target"] for d in out["diagnosing"]] == ["db01:5432"]
            assert out["diagnosing"][0]["alerts"] == ["A", "A"]
            assert [x["reason"] for x in out["refused"]] == [
                "label whycant_target='nope:1': 'nope' is not an inventory host"
            ]
            assert len(fe.spawned) == 1 and svc.diagnosed == []
            async with s.post(url, data=json.dumps(body), headers=auth) as r:  # the same firing again
                out = await r.json()
            assert out["diagnosing"] == [] and len(out["duplicate"]) == 2 and len(fe.spawned) == 1
    finally:
        await runner.cleanup()
