"""The drift report's "Waive 30 days" button through the Slack stand-in, with the fake service.

The report is posted like the scheduler posts it (summary + thread through ``post_report``), the
button is taken from what the stand-in received and clicked back over Socket Mode (or HTTP).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from bot.drift import render
from bot.slack.post import ChannelPacer, post_report
from tests.slack import standin as si

OPS = "C0OPS"


def sample_report() -> dict:
    def d(host, key, kind, value, **kw):
        return {
            "host": host,
            "key": key,
            "value": value,
            "expected": "== 0",
            "kind": kind,
            "finding": None,
            "severity": "warning",
            "fix": None,
            "detail": None,
            **kw,
        }

    return {
        "hosts": 3,
        "errors": [],
        "taken_at": "2025-01-01T00:00:00Z",
        "drifts": [
            d("db01", "net.core.somaxconn", "changed", 1024),
            d("db02", "net.ipv4.tcp_tw_recycle", "known-bad", 1, finding="tcp-tw-recycle", severity="critical"),
            d("db02", "net.ipv4.tcp_tw_recycle", "outlier", 1),
        ],
        "waived": [
            d(
                "db03",
                "net.core.somaxconn",
                "outlier",
                128,
                waived={"until": "2099-01-01T00:00:00+00:00", "reason": "OPS-1", "who": "alice"},
            )
        ],
    }


async def post_sample(standin) -> tuple[str, list]:
    """Post the report to the stand-in; returns (summary ts, the thread messages as posted)."""
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=si.BOT_TOKEN, base_url=standin.api_url)
    rep = sample_report()
    ts = await post_report(
        client,
        OPS,
        render.summary_blocks(rep),
        render.thread_blocks(rep),
        text=render.fallback_text(rep),
        pacer=ChannelPacer(0),
    )
    assert ts
    thread = [c for c in standin.calls_of("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert thread and standin.violations == []
    return ts, thread


def waive_click(
    standin, thread_call, host: str, key: str, *, user: str = "U0ALICE", reply_ts: str = "1700000000.900001"
) -> dict:
    """A block_actions payload for the Waive button of (host, key) in a posted thread message, as Slack sends it."""
    blocks = thread_call.blocks()
    for i, b in enumerate(blocks):  # Slack gives every block an id; the action names its block
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
        message_ts=reply_ts,
        thread_ts=thread_call.args["thread_ts"],
    )
    body["actions"][0]["block_id"] = block["block_id"]
    body["message"]["blocks"] = blocks
    body["message"]["text"] = thread_call.args.get("text")
    return body


async def test_click_records_the_waiver_and_answers_the_clicker_ephemerally(standin, socket_bot, service):
    ts, thread = await post_sample(standin)
    blob = json.dumps([c.blocks() for c in thread])
    assert blob.count('"whycant_waive"') == 2  # db01 somaxconn, db02 tw_recycle; not the waived db03
    before = len(standin.calls)
    await standin.envelope("interactive", waive_click(standin, thread[0], "db02", "net.ipv4.tcp_tw_recycle"))
    eph = await standin.wait_call("chat.postEphemeral", lambda c: "waived until" in c.dump())
    assert eph.args["user"] == "U0ALICE" and eph.args["channel"] == OPS and eph.args["thread_ts"] == ts
    until = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"db02 net.ipv4.tcp_tw_recycle waived until {until}" in eph.args["text"]
    [w] = service.waivers
    assert (w["host"], w["key"], w["who"]) == ("db02", "net.ipv4.tcp_tw_recycle", "U0ALICE")
    assert w["until"][:10] == until
    # the clicked item in the thread now says it is waived, and its button is gone
    upd = await standin.wait_call("chat.update")
    assert upd.args["ts"] == "1700000000.900001" and upd.args["channel"] == OPS
    blocks = upd.blocks()
    assert [render.parse_waive_value(b["accessory"]["value"]) for b in blocks if b.get("accessory")] == [
        ("db01", "net.core.somaxconn")
    ]
    assert f"waived until {until} by <@U0ALICE>" in json.dumps(blocks)
    # nothing public in the channel
    assert not [c for c in standin.calls[before:] if c.method == "chat.postMessage"]
    assert standin.violations == []


async def test_without_drift_permission_the_click_is_refused_ephemerally_and_nothing_recorded(
    standin, socket_bot, service
):
    service.permissions["drift"] = ["U0ONCALL"]
    _, thread = await post_sample(standin)
    await standin.envelope(
        "interactive", waive_click(standin, thread[0], "db01", "net.core.somaxconn", user="U0MALLORY")
    )
    eph = await standin.wait_call("chat.postEphemeral")
    assert eph.args["user"] == "U0MALLORY" and "you may not waive drifts" in eph.args["text"]
    assert "`drift` permission" in eph.args["text"]
    await asyncio.sleep(0.2)
    assert service.waivers == [] and not standin.calls_of("chat.update")
    # an admin may
    service.permissions["admin"] = ["U0BOSS"]
    await standin.envelope("interactive", waive_click(standin, thread[0], "db01", "net.core.somaxconn", user="U0BOSS"))
    await standin.wait_call("chat.postEphemeral", lambda c: c.args["user"] == "U0BOSS")
    assert [(w["host"], w["who"]) for w in service.waivers] == [("db01", "U0BOSS")]
    assert standin.violations == []


async def test_a_tampered_value_is_refused_and_nothing_recorded(standin, socket_bot, service):
    values = ('{"host":"*","key":"*"}', "group:db|net.core.somaxconn", "<!channel>|x", "garbage")
    for i, value in enumerate(values, 1):
        await standin.envelope("interactive", standin.button("waive", value, thread_ts="1700000000.000003"))
        await standin.wait_for(lambda c, n=i: len(standin.calls_of("chat.postEphemeral")) == n, what=value)
    assert all("no valid host and key" in c.dump() for c in standin.calls_of("chat.postEphemeral"))
    assert service.waivers == [] and standin.violations == []


async def test_no_database_is_a_clear_ephemeral_error(standin, socket_bot, service):
    service.has_database = False
    _, thread = await post_sample(standin)
    await standin.envelope("interactive", waive_click(standin, thread[0], "db01", "net.core.somaxconn"))
    eph = await standin.wait_call("chat.postEphemeral")
    assert "need a database" in eph.args["text"] and not standin.calls_of("chat.update")
    assert standin.violations == []


async def test_http_mode_click(standin, http_bot, service):
    _, thread = await post_sample(standin)
    status, _, took = await standin.deliver_http(
        http_bot.url, "interactive", waive_click(standin, thread[0], "db01", "net.core.somaxconn")
    )
    assert status == 200 and took < 3
    await standin.wait_call("chat.postEphemeral", lambda c: "db01 net.core.somaxconn waived until" in c.dump())
    assert [(w["host"], w["key"]) for w in service.waivers] == [("db01", "net.core.somaxconn")]
    assert standin.violations == []
