"""HTTP mode: signed requests to POST /slack/events, like Slack sends them."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.slack.test_socket_mode import _final_reply


async def test_signed_event_is_handled(standin, http_bot, service):
    status, _, took = await standin.deliver_http(http_bot.url, "events", standin.mention("db01:5432"))
    assert status == 200 and took < 1.0
    await standin.wait_for(_final_reply(standin), what="reply")
    assert standin.violations == []


async def test_bad_signature_is_401_and_not_handled(standin, http_bot, service):
    status, _, _ = await standin.deliver_http(http_bot.url, "events", standin.mention("db01:5432"), secret="wrong")
    assert status == 401
    old = int(time.time()) - 6 * 60  # outside the 5-minute window, correctly signed
    status, _, _ = await standin.deliver_http(http_bot.url, "events", standin.mention("db01:5432"), timestamp=old)
    assert status == 401
    await asyncio.sleep(0.2)
    assert service.handled == []


async def test_events_api_retry_of_a_handled_event_is_dropped(standin, http_bot, service):
    payload = standin.mention("db01:5432")
    await standin.deliver_http(http_bot.url, "events", payload)
    await standin.wait_for(_final_reply(standin), what="reply")
    for n in (1, 2):
        status, _, _ = await standin.deliver_http(http_bot.url, "events", payload, retry_num=n)
        assert status == 200
    await asyncio.sleep(0.3)
    assert len(service.diagnoses) == 1


async def test_slash_command_acks_fast_and_replies_in_thread(standin, http_bot, service):
    status, _, took = await standin.deliver_http(http_bot.url, "command", standin.slash("db01:5432 from office"))
    assert status == 200 and took < 1.0
    await standin.wait_for(_final_reply(standin), what="reply")


async def test_button_over_http(standin, http_bot, service):
    service._open("db01", 5432, "U0ALICE")
    inc = max(service.incidents)
    status, _, _ = await standin.deliver_http(http_bot.url, "interactive", standin.button("ack", str(inc)))
    assert status == 200
    await standin.wait_for(lambda c: service.incidents[inc]["status"] == "acked", what="ack")


async def test_healthz_and_metrics(standin, http_bot, service):
    await standin.deliver_http(http_bot.url, "events", standin.mention("db01:5432"))
    await standin.wait_for(_final_reply(standin), what="reply")
    async with aiohttp.ClientSession() as s:
        async with s.get(http_bot.base + "/healthz") as r:
            assert r.status == 200 and (await r.json())["ok"] is True
        async with s.get(http_bot.base + "/metrics") as r:
            body = await r.text()
            assert r.status == 200 and 'whycant_slack_events_total{kind="app_mention"}' in body
