"""End to end over real WebSockets: the real AsyncApp in Socket Mode against the stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from tests.render.fixtures import INJECT
from tests.slack import standin as si


def _final_reply(standin, channel="C0OPS"):
    """The message carrying the finished reply (a chat.update of the progress message, or a post)."""
    return lambda c: (
        c.method in ("chat.update", "chat.postMessage")
        and c.ok
        and c.args.get("channel") == channel
        and "[port-not-listening]" in c.dump()
        and "whycant_rerun" in c.dump()
    )


async def test_mention_gets_threaded_progress_then_reply_with_finding_id(standin, socket_bot, service):
    payload = standin.mention("why can't I connect to db01:5432 from office", ts="1700000000.100000")
    eid = await standin.envelope("events_api", payload)
    ack = await standin.wait_ack(eid)
    assert ack["envelope_id"] == eid
    final = await standin.wait_for(_final_reply(standin), what="final reply")
    # 👀 on the question, progress in the thread, updated, then replaced by the reply
    react = standin.calls_of("reactions.add")[0]
    assert react.args["name"] == "eyes" and react.args["timestamp"] == "1700000000.100000"
    progress = standin.calls_of("chat.postMessage")[0]
    assert progress.args["thread_ts"] == "1700000000.100000"
    assert "office: 0/10 connected" in progress.dump()
    updates = [c for c in standin.calls_of("chat.update") if "connected…" in c.dump()]
    assert any("office: 10/10 connected" in u.dump() for u in updates)
    assert final.method == "chat.update" and final.args["ts"] == progress.args.get("ts", final.args["ts"])
    assert final.args["text"].startswith("🔴") and "[port-not-listening]" in final.args["text"]
    assert len(service.diagnoses) == 1 and service.diagnoses[0]["who"] == "U0ALICE"
    assert standin.violations == []


async def test_dm_is_answered_in_its_thread(standin, socket_bot, service):
    await standin.envelope("events_api", standin.dm("why can't I connect to localhost:1"))
    final = await standin.wait_for(_final_reply(standin, "D0ALICE"), what="dm reply")
    assert final.ok and service.diagnoses[0]["channel"] == "D0ALICE"
    assert standin.violations == []


async def test_slash_command_answers_in_a_thread_of_the_echoed_command(standin, socket_bot, service):
    eid = await standin.envelope("slash_commands", standin.slash("db01:5432 from office"))
    started = time.monotonic()
    await standin.wait_ack(eid)
    assert time.monotonic() - started < 1.0  # acked at once
    root = await standin.wait_call("chat.postMessage", lambda c: "asked:" in c.args.get("text", ""))
    assert "thread_ts" not in root.args or root.args["thread_ts"] is None
    final = await standin.wait_for(_final_reply(standin), what="slash reply")
    ts_root = "1700000000.000001"
    assert any(c.args.get("thread_ts") == ts_root for c in standin.calls_of("chat.postMessage")[1:])
    assert final.ok and standin.violations == []


async def test_slash_command_in_a_channel_the_bot_cannot_post_to_uses_response_url(standin, socket_bot, service):
    standin.missing_channels.add("C0PRIVATE")
    await standin.envelope("slash_commands", standin.slash("db01:5432", channel="C0PRIVATE"))
    resp = await standin.wait_call("response_url")
    assert resp.args["response_type"] == "in_channel" and "[port-not-listening]" in resp.dump()
    assert standin.violations == []


async def test_help_and_incidents(standin, socket_bot, service):
    await standin.envelope("events_api", standin.mention("help"))
    await standin.wait_call("chat.postMessage", lambda c: "ask me" in c.dump())
    assert not standin.calls_of("reactions.add")  # only diagnoses get 👀
    await standin.envelope("events_api", standin.mention("incidents"))
    await standin.wait_call("chat.postMessage", lambda c: "no open incidents" in c.dump())


async def _diagnosed(standin, service) -> int:
    await standin.envelope("events_api", standin.mention("why can't I connect to db01:5432"))
    await standin.wait_for(_final_reply(standin), what="reply")
    return max(service.incidents)


async def test_each_button_does_its_action(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    thread = "1700000000.000009"
    before = len(standin.calls)
    for action in ("rerun", "ack", "verify"):
        await standin.envelope("interactive", standin.button(action, str(inc), thread_ts=thread))
        await standin.wait_for(lambda c, a=action: any(x["action"] == a for x in service.actions), what=action)
    await standin.wait_for(lambda c: c.method == "chat.update" and "verified" in c.dump(), what="verify reply")
    assert [a["action"] for a in service.actions] == ["rerun", "ack", "verify"]
    assert [a for a, _ in service.incidents[inc]["audit"]] == ["open", "rerun", "ack", "verify"]
    assert service.incidents[inc]["status"] == "resolved"
    # replies land in the thread of the message that carried the buttons
    later = [c for c in standin.calls[before:] if c.method == "chat.postMessage"]
    assert later and all(c.args.get("thread_ts") == thread for c in later)
    assert standin.violations == []


async def test_resolve_button(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    await standin.envelope("interactive", standin.button("resolve", str(inc)))
    await standin.wait_call("chat.postMessage", lambda c: f"incident #{inc} resolved" in c.dump())
    assert service.incidents[inc]["status"] == "resolved"


async def test_show_evidence_uploads_a_file_in_three_steps(standin, socket_bot, service):
    service._open("big-db01", 5432, "U0ALICE")
    inc = max(service.incidents)
    await standin.envelope("interactive", standin.button("evidence", str(inc), thread_ts="1700000000.000005"))
    done = await standin.wait_call("files.completeUploadExternal", timeout=5)
    [get_url] = standin.calls_of("files.getUploadURLExternal")
    [upload] = standin.calls_of("upload")
    assert get_url.at <= upload.at <= done.at
    file_id = json.loads(done.args["files"])[0]["id"]
    data = json.loads(standin.uploads[file_id])
    assert data["version"] == 1 and data["request"]["target"] == "db01"
    meta = standin.files[file_id]
    assert meta["completed"] and meta["channel"] == "C0OPS" and meta["thread_ts"] == "1700000000.000005"
    assert int(get_url.args["length"]) == len(standin.uploads[file_id])


async def test_small_evidence_is_posted_inline(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    await standin.envelope("interactive", standin.button("evidence", str(inc)))
    await standin.wait_call("chat.postMessage", lambda c: "Evidence for incident" in c.dump())
    assert not standin.calls_of("files.completeUploadExternal")


async def test_resolve_without_triage_is_refused_ephemerally_and_incident_stays_open(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    service.permissions["triage"] = ["U0ONCALL"]
    await standin.envelope("interactive", standin.button("resolve", str(inc), user="U0MALLORY"))
    eph = await standin.wait_call("chat.postEphemeral")
    assert eph.args["user"] == "U0MALLORY" and "you may not" in eph.args["text"]
    await asyncio.sleep(0.2)
    assert service.incidents[inc]["status"] == "open"
    assert not [a for a in service.actions if a["action"] == "resolve"]
    # the on-call (by user id) may
    await standin.envelope("interactive", standin.button("resolve", str(inc), user="U0ONCALL"))
    await standin.wait_for(lambda c: service.incidents[inc]["status"] == "resolved", what="resolve")


async def test_permissions_by_user_group_and_channel(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    service.permissions.update(triage=["S0ONCALL"], diagnose=["C0OPS"])
    socket_bot.whycant._perm_map = service.permissions
    standin.usergroups["S0ONCALL"] = ["U0BOB"]
    await standin.envelope("interactive", standin.button("ack", str(inc), user="U0BOB"))
    await standin.wait_for(lambda c: service.incidents[inc]["status"] == "acked", what="group ack")
    assert standin.calls_of("usergroups.list")
    assert service.groups_seen == ["S0ONCALL"]  # the service re-checks with the user's groups too
    # diagnose is allowed in C0OPS only: a mention elsewhere is refused, ephemerally
    await standin.envelope("events_api", standin.mention("db01:5432", channel="C0OTHER"))
    eph = await standin.wait_call("chat.postEphemeral", lambda c: c.args["channel"] == "C0OTHER")
    assert "you may not diagnose" in eph.args["text"]
    assert len(service.diagnoses) == 1


async def test_app_home_lists_open_incidents_with_buttons(standin, socket_bot, service):
    inc = await _diagnosed(standin, service)
    await standin.envelope("events_api", standin.home_opened())
    pub = await standin.wait_call("views.publish")
    view = pub.args["view"] if isinstance(pub.args["view"], dict) else json.loads(pub.args["view"])
    flat = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home" and f"#{inc}" in flat and "db01:5432" in flat and "open" in flat
    assert "whycant_resolve" in flat and "Recent drift" in flat and "tcp-tw-recycle" in flat
    # a Home button answers in the app DM and republishes the Home
    await standin.envelope("interactive", standin.button("ack", str(inc), home=True))
    await standin.wait_call("chat.postMessage", lambda c: c.args["channel"] == "U0ALICE")
    await standin.wait_for(lambda c: len(standin.calls_of("views.publish")) >= 2, what="republish")
    assert standin.violations == []


async def test_retried_envelope_of_a_handled_event_is_not_diagnosed_twice(standin, socket_bot, service):
    payload = standin.mention("db01:5432")
    await standin.envelope("events_api", payload)
    await standin.wait_for(_final_reply(standin), what="first reply")
    eid = await standin.envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    await standin.wait_ack(eid)  # acked…
    await asyncio.sleep(0.3)
    assert len(service.diagnoses) == 1  # …but not handled again


async def test_unacked_envelope_is_redelivered_with_retry_attempt_and_handled_once(standin, socket_bot, service):
    standin.redeliver_after = 0.2
    # an envelope Slack sent but never saw acked (lost): the stand-in re-delivers it with retry_attempt=1
    payload = standin.mention("db01:5432")
    eid = "env-redeliver"
    standin._pending[eid] = {
        "envelope": {
            "envelope_id": eid,
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        },
        "sent": time.monotonic(),
    }
    await standin.wait_ack(eid, timeout=3)
    await asyncio.sleep(0.5)
    assert len(service.diagnoses) == 1


async def test_429_on_post_message_is_retried_after_retry_after(standin, socket_bot, service):
    standin.fail("chat.postMessage", "ratelimited", retry_after=1)
    await standin.envelope("events_api", standin.mention("db01:5432"))
    await standin.wait_for(_final_reply(standin), timeout=8, what="reply after 429")
    posts = standin.calls_of("chat.postMessage")
    assert posts[0].status == 429 and posts[1].ok
    assert posts[1].at - posts[0].at >= 1.0  # Retry-After honoured
    assert standin.violations == []


async def test_500_is_retried(standin, socket_bot, service):
    standin.fail("chat.update", "500")
    await standin.envelope("events_api", standin.mention("db01:5432"))
    await standin.wait_for(_final_reply(standin), timeout=8, what="reply after 500")
    assert any(c.status == 500 for c in standin.calls_of("chat.update"))


async def test_disconnect_frame_reconnects_and_next_event_is_handled(standin, socket_bot, service):
    assert standin.connections_opened == 1
    await standin.disconnect()
    await standin.wait_for(lambda c: standin.connections_opened >= 2, what="reconnect")
    await standin.wait_sockets(1)
    await standin.envelope("events_api", standin.mention("db01:5432"))
    await standin.wait_for(_final_reply(standin), what="reply after reconnect")


async def test_watchdog_reconnects_a_silent_connection(standin, socket_bot, service):
    runner = socket_bot.runner
    for w in runner.watchdogs:
        w.silence_s = 0.6
    standin.mute()
    await standin.wait_for(lambda c: standin.connections_opened >= 2, timeout=5, what="watchdog reconnect")
    assert runner.reconnects >= 1
    await standin.wait_sockets(1)
    await standin.envelope("events_api", standin.mention("db01:5432"))
    await standin.wait_for(_final_reply(standin), what="reply after watchdog reconnect")


async def test_channel_not_found_is_logged_and_nothing_crashes(standin, socket_bot, service, caplog):
    standin.missing_channels.add("C0GONE")
    with caplog.at_level(logging.WARNING, logger="whycant.slack"):
        await standin.envelope("events_api", standin.mention("db01:5432", channel="C0GONE"))
        await standin.wait_for(
            lambda c: c.error == "channel_not_found" and c.method == "chat.postMessage", what="channel_not_found"
        )
        await standin.envelope("events_api", standin.mention("db01:5432", channel="C0OPS"))
        await standin.wait_for(_final_reply(standin), what="next reply")
    assert any("channel_not_found" in r.getMessage() for r in caplog.records)


async def test_injection_is_escaped_in_every_payload(standin, socket_bot, service):
    await standin.envelope("events_api", standin.mention(f"hostile db01:5432 {INJECT}"))
    await standin.wait_for(lambda c: c.method == "chat.update" and "whycant_rerun" in c.dump(), what="reply")
    await standin.envelope("slash_commands", standin.slash(f"hostile {INJECT}"))
    await standin.wait_for(
        lambda c: len([x for x in standin.calls if "whycant_rerun" in x.dump()]) >= 2, what="slash reply"
    )
    sent = standin.sent()
    assert sent
    for c in sent:
        dump = c.dump()
        assert "<!channel>" not in dump and "<https://evil" not in dump, c.method
    assert "&lt;!channel&gt;" in "".join(c.dump() for c in sent)
    assert standin.violations == []


async def test_several_sockets_share_events(standin, service, monkeypatch):
    from bot.slack.app import build_app
    from bot.slack.socket import SocketRunner

    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    app = build_app(service, None, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.0)
    runner = SocketRunner(app, si.APP_TOKEN, connections=2, ping_interval=30, check_s=0.5)
    await runner.start()
    try:
        await standin.wait_sockets(2)
        for i in range(4):
            await standin.envelope("events_api", standin.mention(f"db01:{5430 + i}"))
        await standin.wait_for(lambda c: len(service.diagnoses) == 4, what="4 diagnoses")
        assert len(standin.acks) == 4
    finally:
        await app.whycant.drain(5)
        await runner.close()
