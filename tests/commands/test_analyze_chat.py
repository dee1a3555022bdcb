"""`analyze` in chat and in the console: pasted output diagnosed, nothing probed, an incident marked as pasted."""

from __future__ import annotations

import subprocess
import sys

import yaml

from bot.render.text import render_text
from bot.request import MAX_PASTE

from .conftest import OVERFLOWS


async def test_a_pasted_block_is_diagnosed_and_stored_as_pasted(svc):
    text = OVERFLOWS.read_text()
    out = await svc.handle(
        f"hey whycant analyze this:\n```\n{text}```", who="U0ALICE", channel="C0OPS", thread_ts="1.1"
    )
    assert out.kind == "diagnosis", out.text
    ids = [f.id for f in out.diagnosis.findings]
    assert "listen-queue-overflow" in ids
    assert out.evidence.source == "pasted" and out.evidence.connect == []  # nothing probed
    assert out.text.startswith("pasted output, nothing probed")
    stored = await svc.store.get(out.incident.id)
    assert (await svc.store.request_of(stored)).target.startswith("pasted-")
    evidence = await svc.store.latest_evidence(out.incident.id)
    counters = evidence.target.counters_t1 or evidence.target.counters_t0  # one snapshot: either slot
    assert evidence.source == "pasted" and counters["TcpExt.ListenOverflows"] > 0
    assert [f["id"] for f in stored.findings] == ids
    # the reply offers no button that would probe a paste
    rendered = render_text(out, color=False)
    assert "[listen-queue-overflow]" in rendered


async def test_same_paste_joins_a_different_paste_opens_another(svc):
    text = OVERFLOWS.read_text()
    a = await svc.handle(f"analyze\n{text}", who="U0ALICE")
    b = await svc.handle(f"analyze ```{text}```", who="U0BOB")
    c = await svc.handle("analyze\n```\nTcpExtListenOverflows 12\nTcpPassiveOpens 40\n```", who="U0BOB")
    assert a.incident.id == b.incident.id and b.incident.joined
    assert c.incident.id != a.incident.id


async def test_bad_pastes_get_a_clear_message_and_store_nothing(svc):
    empty = await svc.handle("analyze", who="U0ALICE")
    assert empty.kind == "error" and "analyze needs the output to read" in empty.text
    prose = await svc.handle("analyze\n```\nhello, my database is slow\n```", who="U0ALICE")
    assert prose.kind == "error" and "nothing recognised in the paste" in prose.text and "expected" in prose.text
    big = await svc.handle("analyze\n```\n" + "TcpExtListenOverflows 1\n" * (MAX_PASTE // 20) + "```", who="U0A")
    assert big.kind == "error" and "the paste is too large" in big.text and f"at most {MAX_PASTE:,}" in big.text
    assert await svc.store.open_incidents() == []


async def test_slack_escaping_inside_a_paste_is_undone(svc):
    out = await svc.handle(
        "analyze\n```\n# sysctl.conf &lt;pasted&gt;\nnet.ipv4.tcp_tw_recycle = 1\nnet.ipv4.tcp_timestamps = 1\n```",
        who="U0ALICE",
    )
    assert out.kind == "diagnosis", out.text
    assert out.evidence.target.sysctls["net.ipv4.tcp_tw_recycle"] in (1, "1")


def test_console_reads_a_pasted_block(tmp_path):
    cfg = tmp_path / "whycant.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/w.db",
                "hosts": {"localhost": {"address": "127.0.0.1", "transport": "local"}},
            }
        )
    )
    script = (
        "analyze\n```\n"
        + OVERFLOWS.read_text()
        + "```\nincidents\nanalyze\n"
        + "TcpExtListenOverflows 12\nTcpPassiveOpens 40\n\nhelp\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--config", str(cfg), "--who", "alice"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    first, rest = out.split("Open incidents", 1)
    assert "[listen-queue-overflow]" in first and "pasted output, nothing probed" in first
    assert "Incident #1" in first
    assert "#1 · pasted-" in rest
    assert "Incident #2" in rest  # the second, unfenced block (ended by a blank line) is its own paste
    assert "analyze + a pasted block" in rest  # help came after the block, as its own command
