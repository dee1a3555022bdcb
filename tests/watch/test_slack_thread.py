"""The watch's Slack thread over real HTTP (tests/slack/standin.py): one post per episode, updated when
it recovers, not one per failed attempt; the summary and its PNG chart (files_upload_v2) in the thread."""

from __future__ import annotations

import asyncio
import json

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import parse_config
from bot.service import Whycant
from bot.watch.manager import WatchManager, settings_for
from bot.watch.sinks import SlackSink
from tests.slack import standin as si
from tests.watch.test_resume import STALE, config_dict


async def _noop(_r, w):
    w.close()


async def test_three_flaps_make_three_episode_posts_and_a_chart(tmp_path):
    standin = await si.StandIn().start()
    server = await asyncio.start_server(_noop, "127.0.0.1", 0, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    cfg = parse_config(config_dict(f"sqlite:///{tmp_path}/w.db"), source="test")
    svc = await Whycant.create(cfg)
    client = AsyncWebClient(token=si.BOT_TOKEN, base_url=standin.api_url)
    svc.watch_manager = WatchManager(
        svc,
        lambda rec: SlackSink(client, rec.channel or "C0OPS", rec.thread_ts),
        replica="r",
        settings=settings_for(cfg),
        stale_after=STALE,
    )
    try:
        out = await svc.handle(f"watch lo:{port} every 1s for 1h", who="U0ALICE", channel="C0OPS")
        assert out.kind == "text", out.text
        await standin.wait_call("chat.postMessage", lambda c: "Watching lo:" in c.dump())
        for _ in range(3):  # the service goes away for ~3 rounds and comes back
            await asyncio.sleep(1.5)
            server.close()
            await server.wait_closed()
            await asyncio.sleep(3.2)
            server = await asyncio.start_server(_noop, "127.0.0.1", port, reuse_address=True)
        await asyncio.sleep(2.5)
        await svc.handle("unwatch 1", who="U0ALICE", channel="C0OPS")
        await standin.wait_call("files.completeUploadExternal", timeout=15)
    finally:
        await svc.watch_manager.shutdown()
        await svc.close()
        server.close()
        await standin.close()
    posts = [c for c in standin.calls_of("chat.postMessage") if c.ok]
    episodes = [c for c in posts if c.args.get("text", "").startswith("Episode ")]
    assert len(episodes) == 3, [c.args.get("text") for c in posts]
    assert all("[port-not-listening]" in c.args["text"] for c in episodes)
    # the first post opens the thread; everything else goes into it
    assert [c for c in posts if c.args.get("thread_ts") is None] == [posts[0]]
    ts_of_thread = episodes[0].args["thread_ts"]
    assert all(c.args.get("thread_ts") == ts_of_thread for c in posts[1:])
    updates = [c for c in standin.calls_of("chat.update") if c.ok]
    assert len(updates) == 3 and all("ended" in c.args["text"] for c in updates)
    summary = next(c for c in posts if "stopped" in c.args.get("text", "") and "episodes: 3" in c.args["text"])
    assert summary.args["thread_ts"] == ts_of_thread
    done = standin.calls_of("files.completeUploadExternal")[-1]
    file_id = json.loads(done.args["files"])[0]["id"]
    assert standin.uploads[file_id][:8] == b"\x89PNG\r\n\x1a\n"
    assert standin.files[file_id]["thread_ts"] == ts_of_thread and standin.files[file_id]["channel"] == "C0OPS"
