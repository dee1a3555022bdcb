"""`@whycant analyze` in Slack with the REAL core service: a code block, a DM, an uploaded text file.

The Slack stand-in (tests/slack/standin.py) serves the uploaded file from ``url_private`` over real
HTTP, only to the bot token; the bot runs in Socket Mode over real WebSockets. Nothing is probed.
"""

from __future__ import annotations

import json

import pytest

from bot.slack.app import build_app
from bot.slack.files import check_url
from bot.slack.socket import SocketRunner
from probes.errors import BadInput
from tests.commands.conftest import OVERFLOWS, svc  # noqa: F401  (svc: a real Whycant, fixture)
from tests.slack import standin as si


@pytest.fixture
async def bot(standin, svc, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    app = build_app(svc, svc.config, token=si.BOT_TOKEN, socket_mode=True, progress_interval=0.0)
    runner = SocketRunner(app, si.APP_TOKEN, ping_interval=30, silence_s=60, check_s=0.2)
    await runner.start()
    await standin.wait_sockets(1)
    yield app
    await app.whycant.drain(10)
    await runner.close()


def reply_in(standin, channel: str, thread_ts: str):
    return lambda c: (
        c.method in ("chat.postMessage", "chat.update")
        and c.args.get("channel") == channel
        and (c.method == "chat.update" or c.args.get("thread_ts") == thread_ts)
        and ("[listen-queue-overflow]" in c.dump() or "✖" in c.dump() or "analyze" in c.dump())
    )


async def test_uploaded_text_file_is_downloaded_with_the_bot_token_and_diagnosed(standin, bot, svc):
    f = standin.share_file(OVERFLOWS.read_text(), name="netstat-s.txt")
    ev = standin.mention("analyze", ts="1700000100.000001", files=[f])
    await standin.envelope("events_api", ev)
    c = await standin.wait_for(
        lambda c: c.method in ("chat.postMessage", "chat.update") and "[listen-queue-overflow]" in c.dump(),
        timeout=15,
        what="the diagnosis",
    )
    dl = standin.calls_of("files.download")
    assert [d.token for d in dl] == [si.BOT_TOKEN] and dl[0].args["file_id"] == f["id"]
    assert "pasted output, nothing probed" in c.dump()
    assert "whycant_rerun" not in c.dump() and "whycant_verify" not in c.dump()  # nothing to re-probe
    assert "whycant_ack" in c.dump()
    thread = [x for x in standin.calls_of("chat.postMessage") if x.args.get("thread_ts") == "1700000100.000001"]
    assert thread, "the answer goes in the thread of the question"
    incidents = await svc.store.open_incidents()
    assert len(incidents) == 1 and incidents[0].host.startswith("pasted-")
    assert standin.violations == []


async def test_code_block_in_a_dm(standin, bot, svc):
    text = OVERFLOWS.read_text().replace("<", "&lt;").replace(">", "&gt;")  # as Slack escapes message text
    await standin.envelope("events_api", standin.dm(f"analyze\n```{text}```"))
    c = await standin.wait_for(
        lambda c: c.method in ("chat.postMessage", "chat.update") and "[listen-queue-overflow]" in c.dump(),
        timeout=15,
        what="the diagnosis",
    )
    assert c.args["channel"] == "D0ALICE"
    assert standin.calls_of("files.download") == []


async def test_a_file_shared_in_a_dm_is_read_too(standin, bot, svc):
    f = standin.share_file(
        OVERFLOWS.read_text(), name="nstat.log", mimetype="application/octet-stream", filetype="text"
    )  # Slack calls a pasted snippet "text" whatever the mimetype
    await standin.envelope("events_api", standin.dm("", files=[f]))  # a file with no words: analyze it
    c = await standin.wait_for(
        lambda c: c.method in ("chat.postMessage", "chat.update") and "[listen-queue-overflow]" in c.dump(),
        timeout=15,
        what="the diagnosis",
    )
    assert c.args["channel"] == "D0ALICE" and len(standin.calls_of("files.download")) == 1


@pytest.mark.parametrize(
    "share, needle",
    [
        (
            dict(content=b"\x89PNG\r\n\x1a\n\0\0", name="shot.png", mimetype="image/png", filetype="png"),
            "shot.png is not a text file (image/png)",
        ),
        (
            dict(content="TcpExtListenOverflows 1\n", name="huge.txt", size=10_000_000),
            "huge.txt is too large (10,000,000 bytes; at most 262,144)",
        ),
        (
            dict(content="TcpExtListenOverflows 1\n\0", name="nul.txt"),
            "nul.txt is not a text file (it holds NUL bytes)",
        ),
    ],
)
async def test_files_that_cannot_be_read_get_a_clear_answer(standin, bot, svc, share, needle):
    f = standin.share_file(**share)
    await standin.envelope("events_api", standin.mention("analyze", files=[f]))
    c = await standin.wait_for(lambda c: c.method == "chat.postMessage" and needle in c.dump(), timeout=10, what=needle)
    assert "✖" in c.dump() or "⛔" in c.dump() or needle in json.dumps(c.args)
    assert await svc.store.open_incidents() == []


def test_the_token_only_goes_to_slack_file_hosts():
    api = "http://127.0.0.1:5000/api/"
    assert check_url("https://files.slack.com/files-pri/T1-F1/x.txt", api)
    assert check_url("http://127.0.0.1:5000/files-pri/F1/x.txt", api)
    for bad in ("https://evil.example/x.txt", "http://files.slack.com/x", "file:///etc/passwd", ""):
        with pytest.raises(BadInput):
            check_url(bad, api)
