"""``/readyz`` follows the database: not ready (with the reason) while PostgreSQL is unreachable, ready
again when it is back. Real PostgreSQL behind a loopback TCP proxy that the test cuts and restores."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.pg import throwaway_database
from tests.service.procs import closed_port, serve_config, serve_env, start_serve
from tests.service.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


async def readyz(base: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/readyz", timeout=aiohttp.ClientTimeout(total=10)) as r:
            return r.status, await r.json()


async def wait_ready(base: str, want: bool, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await readyz(base)
        if (status == 200) == want:
            assert body["ready"] is want
            return body
        assert time.monotonic() < deadline, f"readyz stayed {status}: {body}"
        await asyncio.sleep(0.3)


async def test_readyz_tracks_the_database_with_secrets_from_files(standin, tmp_path):
    async with throwaway_database("whycant_readyz") as url:
        host_port = url.split("@", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        proxy = await TcpProxy(host, int(port)).start()
        via_proxy = url.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
        cfg = serve_config(tmp_path, port=closed_port(), database=via_proxy)
        env = serve_env(standin.api_url)  # secrets as files, the way systemd credentials hand them over
        for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
            (tmp_path / name).write_text(env.pop(name) + "\n")
            env[f"{name}_FILE"] = str(tmp_path / name)
        serve = await start_serve(tmp_path, cfg, env)
        try:
            body = await wait_ready(serve.base, True)
            assert body["checks"] == {"database": "ok", "slack": "ok", "scheduler": "ok (no reports configured)"}

            await proxy.stop()
            body = await wait_ready(serve.base, False)
            assert body["checks"]["database"].startswith("database unreachable"), body
            assert body["checks"]["slack"] == "ok"  # the reason names only what is wrong
            async with aiohttp.ClientSession() as s:  # liveness is not readiness
                async with s.get(serve.base + "/healthz") as r:
                    assert r.status == 200
                async with s.get(serve.base + "/metrics") as r:
                    assert "whycant_ready 0.0" in await r.text()

            await proxy.start()  # same port
            await wait_ready(serve.base, True)
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]
            await proxy.stop()
