"""Paced report posting: ≈1 message/s per channel, channels independent, failures logged."""

from __future__ import annotations

import asyncio
import logging

from bot.slack.client import make_client
from bot.slack.post import ChannelPacer, post_report
from tests.slack import standin as si


def _blocks(n):
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(n)]


async def test_report_is_paced_per_channel_and_threaded(standin):
    client = make_client(si.BOT_TOKEN, base_url=standin.api_url)
    pacer = ChannelPacer(interval=0.3)
    a, b = await asyncio.gather(
        post_report(client, "C0A", _blocks(2), _blocks(120), text="drift", pacer=pacer),
        post_report(client, "C0B", _blocks(2), _blocks(10), text="drift", pacer=pacer),
    )
    assert a and b
    posts_a = [c for c in standin.calls_of("chat.postMessage") if c.args["channel"] == "C0A"]
    assert len(posts_a) == 4  # summary + 3 thread chunks of <= 50 blocks
    assert all(c.args.get("thread_ts") == a for c in posts_a[1:])
    gaps = [y.at - x.at for x, y in zip(posts_a, posts_a[1:])]
    assert min(gaps) >= 0.28
    first_b = next(c for c in standin.calls_of("chat.postMessage") if c.args["channel"] == "C0B")
    assert first_b.at - posts_a[0].at < 0.25  # another channel does not wait
    assert standin.violations == []


async def test_report_to_missing_channel_is_logged(standin, caplog):
    standin.missing_channels.add("C0GONE")
    client = make_client(si.BOT_TOKEN, base_url=standin.api_url)
    with caplog.at_level(logging.WARNING, logger="whycant.slack"):
        ts = await post_report(client, "C0GONE", _blocks(1), _blocks(3), pacer=ChannelPacer(0.0))
    assert ts is None and "channel_not_found" in caplog.text
