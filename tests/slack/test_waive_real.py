"""The "Waive 30 days" button with the REAL core service on SQLite (no lab: hosts replayed).

``Whycant.create`` with its real rules and storage, a ReplayTransport for the hosts; the report is
posted through the stand-in the way the scheduler posts it, the Waive button it carries is clicked
back over Socket Mode, and the next ``run_drift`` lists the drift under ``waived``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.drift import render
from bot.drift.report import run_drift
from bot.drift.store import DriftStore
from bot.slack.post import report_poster
from tests.drift.helpers import host_recording
from tests.slack import standin as si

OPS = "C0OPS"
ONCALL = "U0ONCALL"  # holds `drift`


def recording() -> dict:
    base = {"net.ipv4.tcp_tw_recycle": 0, "net.core.somaxconn": 4096, "net.ipv4.tcp_max_syn_backlog": 8192}
    rec = {n: host_recording(dict(base), mem_gb=16, cpus=4) for n in ("db01", "db03", "db04")}
    rec["db02"] = host_recording({**base, "net.ipv4.tcp_tw_recycle": 1}, mem_gb=16, cpus=4)
    return rec


@pytest.fixture
async def real_service(tmp_path):
    from bot.config import parse_config
    from bot.service import Whycant
    from probes.collect import TransportSet
    from probes.transports.replay import ReplayTransport

    cfg = parse_config(
        {
            "hosts": {
                n: {"address": f"198.18.0.{10 + i}", "groups": ["db"]}
                for i, n in enumerate(("db01", "db02", "db03", "db04"))
            },
            "baselines": {"db": {"net.ipv4.tcp_tw_recycle": 0}},
            "database": f"sqlite:///{tmp_path}/whycant.db",
            "permissions": {"diagnose": ["*"], "drift": [ONCALL]},
        },
        "test",
    )
    svc = await Whycant.create(cfg, transports=TransportSet(ssh=ReplayTransport(recording())))
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def real_bot(standin, real_service, monkeypatch):
    from bot.slack.app import build_app
    from bot.slack.socket import SocketRunner

    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    app = build_app(real_service, real_service.config, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    await standin.wait_sockets(1)
    try:
        yield app
    finally:
        await app.whycant.drain(5)
        await runner.close()


def click(standin, thread_call, host: str, key: str, user: str) -> dict:
    blocks = thread_call.blocks()
    for i, b in enumerate(blocks):
        b.setdefault("block_id", f"b{i}")
    block = next(
        b
        for b in blocks
        if (b.get("accessory") or {}).get("action_id") == "whycant_waive"
        and render.parse_waive_value(b["accessory"]["value"]) == (host, key)
    )
    body = standin.button(
        "waive",
        block["accessory"]["value"],
        user=user,
        channel=OPS,
        message_ts="1700000000.800001",
        thread_ts=thread_call.args["thread_ts"],
    )
    body["actions"][0]["block_id"] = block["block_id"]
    body["message"]["blocks"] = blocks
    return body


def has(drifts: list[dict], host: str, key: str) -> bool:
    return any(d["host"] == host and d["key"] == key for d in drifts)


async def test_waive_button_with_the_real_service(standin, real_bot, real_service, monkeypatch):
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack import post

    monkeypatch.setattr(post.DEFAULT_PACER, "interval", 0)  # no 1 s pacing between the stand-in's messages
    first = await run_drift(real_service, ["all"])
    assert has(first["drifts"], "db02", "net.ipv4.tcp_tw_recycle") and not first["waived"]

    # posted like a scheduled report: summary in the channel, details (with the buttons) in its thread
    entry = type("Entry", (), {"name": "weekly", "channel": OPS, "timezone": "UTC"})()
    client = AsyncWebClient(token=si.BOT_TOKEN, base_url=standin.api_url)
    ts = await report_poster(client)(entry, first, False, datetime.now(timezone.utc))
    thread = [c for c in standin.calls_of("chat.postMessage") if c.args.get("thread_ts") == ts]
    msg = next(c for c in thread if "whycant_waive" in c.dump())

    # someone without `drift`: refused, nothing stored
    await standin.envelope("interactive", click(standin, msg, "db02", "net.ipv4.tcp_tw_recycle", "U0ALICE"))
    eph = await standin.wait_call("chat.postEphemeral")
    assert eph.args["user"] == "U0ALICE" and "you may not waive" in eph.args["text"]
    await real_bot.whycant.drain(5)
    store = DriftStore.for_service(real_service)
    assert await store.waivers() == []

    # the on-call: stored for 30 days, confirmed to them alone
    await standin.envelope("interactive", click(standin, msg, "db02", "net.ipv4.tcp_tw_recycle", ONCALL))
    ok = await standin.wait_call("chat.postEphemeral", lambda c: c.args["user"] == ONCALL)
    until = datetime.now(timezone.utc) + timedelta(days=30)
    assert f"db02 net.ipv4.tcp_tw_recycle waived until {until:%Y-%m-%d}" in ok.args["text"]
    assert ok.args["thread_ts"] == ts
    [w] = await store.waivers()
    assert (w["host"], w["key"], w["who"]) == ("db02", "net.ipv4.tcp_tw_recycle", ONCALL)
    assert abs((w["until"] - until).total_seconds()) < 60 and ONCALL in w["reason"]
    await real_bot.whycant.drain(5)
    upd = standin.calls_of("chat.update")[-1]
    assert "waived until" in upd.dump() and f"<@{ONCALL}>" in upd.dump()

    # the next report shows it as waived, not as drift, and offers no button for it
    second = await run_drift(real_service, ["all"])
    assert not has(second["drifts"], "db02", "net.ipv4.tcp_tw_recycle")
    waived = [d for d in second["waived"] if d["host"] == "db02"]
    assert waived and all(d["key"] == "net.ipv4.tcp_tw_recycle" and d["waived"]["who"] == ONCALL for d in waived)
    blocks = render.thread_blocks(second)
    assert not any(
        render.parse_waive_value(b["accessory"]["value"]) == ("db02", "net.ipv4.tcp_tw_recycle")
        for b in blocks
        if b.get("accessory")
    )
    assert "*Waived*" in json.dumps(blocks)
    assert standin.violations == []


async def test_waive_without_a_database_is_a_clear_error(tmp_path):
    from bot.config import parse_config
    from bot.service import Whycant
    from probes.collect import TransportSet
    from probes.transports.replay import ReplayTransport

    cfg = parse_config({"hosts": {"db01": {"address": "198.18.0.10"}}}, "test")
    svc = await Whycant.create(cfg, transports=TransportSet(ssh=ReplayTransport(recording())), storage=False)
    try:
        out = await svc.waive("db01", "net.core.somaxconn", who="U0X")
        assert out.kind == "error" and "database" in out.text
    finally:
        await svc.close()


async def test_waive_validates_host_and_key_against_the_inventory(real_service):
    bad = await real_service.waive("nosuch", "net.core.somaxconn", who="U0X")
    assert bad.kind == "error"
    bad = await real_service.waive("db01", "Bad Key!", who="U0X")
    assert bad.kind == "error" and await DriftStore.for_service(real_service).waivers() == []
    good = await real_service.waive("db01", "net.core.somaxconn", who="U0X", days=7)
    assert good.kind == "text" and good.data["waiver"]["host"] == "db01"
