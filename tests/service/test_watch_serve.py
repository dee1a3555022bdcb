"""``whycant serve`` runs watches: a watch asked for in Slack is resumed once after the serving process
is killed (SIGKILL) mid-watch and two replicas start on the same PostgreSQL database."""

from __future__ import annotations

import asyncio
import signal

from tests.pg import throwaway_database
from tests.service.procs import serve_config, serve_env, start_serve
from tests.slack import standin as si

STALE = 3


async def _noop(_r, w):
    w.close()


def _posts(standin, text: str) -> list:
    return [c for c in standin.calls_of("chat.postMessage") if c.ok and text in c.args.get("text", "")]


async def test_killed_server_watch_is_resumed_by_exactly_one_of_two_replicas(tmp_path):
    standin = await si.StandIn().start()
    server = await asyncio.start_server(_noop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    procs = []
    try:
        async with throwaway_database("whycant_watch_serve") as url:
            cfg = serve_config(tmp_path, port=port, database=url, watch={"stale_seconds": STALE})
            env = serve_env(standin.api_url)
            first = await start_serve(tmp_path, cfg, env)
            procs.append(first)
            await standin.wait_sockets(1, timeout=30)
            await standin.envelope("events_api", standin.mention("watch db01:postgres every 1s for 1h"))
            await standin.wait_call("chat.postMessage", lambda c: "Watching db01:" in c.dump(), timeout=30)
            await asyncio.sleep(2.0)
            first.signal(signal.SIGKILL)  # mid-watch, no goodbye
            await first.wait(10)
            replicas = [await start_serve(tmp_path, cfg, env) for _ in range(2)]
            procs += replicas
            await standin.wait_call("chat.postMessage", lambda c: "Resumed watching db01:" in c.dump(), timeout=30)
            await asyncio.sleep(STALE * 2 + 2)  # time for a second (wrong) take-over to show
            resumed = _posts(standin, "Resumed watching db01:")
            assert len(resumed) == 1, [c.args.get("text") for c in standin.calls_of("chat.postMessage")]
            started = _posts(standin, "Watching db01:")[0]
            # the resumed watch posts into the thread the first process opened
            assert resumed[0].args.get("thread_ts") is not None
            assert started.args.get("thread_ts") is None
            for p in replicas:
                assert await p.stop() == 0, p.output()[-3000:]
            assert "resumed here" in "".join(p.output() for p in replicas)
    finally:
        for p in procs:
            await p.stop()
        server.close()
        await standin.close()
