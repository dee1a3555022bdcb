"""Escaping in every renderer, text rendering, limits on odd inputs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.outcome import IncidentInfo, Outcome
from bot.render import escape as esc
from bot.render.blockkit import render_home, render_outcome
from bot.render.text import render_text
from tests.render.fixtures import INJECT, hostile, many_findings, one_finding
from tests.slack.limits import check_message

REPO = Path(__file__).resolve().parents[2]


def test_escape_primitives():
    assert esc.mrkdwn("<!channel> & <https://evil|db01>") == "&lt;!channel&gt; &amp; &lt;https://evil|db01&gt;"
    assert "```" not in esc.code("a ``` b")
    assert esc.mention("U0ABC") == "<@U0ABC>" and esc.mention("<!here>") == "&lt;!here&gt;"
    assert esc.terminal("ok\x1b[2J\x07 done\n") == "ok[2J done\n"
    assert esc.truncate_lines(["x" * 10] * 10, 50).endswith("more lines")
    assert len(esc.truncate_lines(["x" * 10] * 10, 50)) <= 50
    assert len(esc.truncate_lines(["y" * 500], 50)) <= 50


def test_hostile_outcome_is_escaped_in_block_kit():
    payload = render_outcome(hostile())
    flat = json.dumps(payload, ensure_ascii=False)
    assert "<!channel>" not in flat and "<https://evil" not in flat and "<@U0BOSS>" not in flat
    assert flat.count("&lt;!channel&gt;") >= 10
    assert check_message(payload) == []


def test_every_outcome_kind_renders_within_limits_and_escaped():
    kinds = [
        Outcome(kind="help", text=f"help {INJECT}"),
        Outcome(kind="refused", text=f"you may not {INJECT}", ephemeral=True),
        Outcome(kind="error", text=f"boom {INJECT}"),
        Outcome(
            kind="ack",
            text=f"acked {INJECT}",
            incident=IncidentInfo(id=3, status="acked"),
            data={"audit": [{"at": "t", "who": f"U1{INJECT}", "action": "ack"}]},
        ),
        Outcome(
            kind="incidents",
            data={
                "incidents": [
                    {
                        "id": i,
                        "host": f"db{i}{INJECT}",
                        "port": 5432,
                        "status": "open",
                        "age_s": 4000,
                        "askers": 2,
                        "verdict": f"v {INJECT}",
                    }
                    for i in range(300)
                ]
            },
        ),
        Outcome(
            kind="drift",
            data={
                "hosts": 12,
                "drifts": [
                    {
                        "host": f"db01{INJECT}",
                        "key": "net.ipv4.tcp_tw_recycle",
                        "value": 1,
                        "expected": 0,
                        "kind": "known-bad",
                        "finding": "tcp-tw-recycle",
                    }
                ]
                * 200,
                "errors": [{"host": "x", "error": INJECT}],
            },
        ),
        Outcome(kind="history", data={"incidents": []}),
    ]
    for o in kinds:
        payload = render_outcome(o)
        assert check_message(payload) == [], o.kind
        assert "<!channel>" not in json.dumps(payload)
        text = render_text(o, color=False)
        assert text.strip()


def test_home_is_cut_at_100_blocks_with_a_visible_marker():
    incs = [
        {
            "id": i,
            "host": f"db{i}",
            "port": 5432,
            "status": "open",
            "age_s": 60 * i,
            "askers": ["U0A"],
            "verdict": f"verdict {INJECT}",
        }
        for i in range(200)
    ]
    view = render_home(incs, f"drift {INJECT}")
    assert len(view["blocks"]) <= 100
    flat = json.dumps(view, ensure_ascii=False)
    assert "more" in flat and "Recent drift" in flat and "<!channel>" not in flat
    assert check_message({"view": view}, surface="home") == []
    assert "no open incidents" in json.dumps(render_home([]), ensure_ascii=False)


def test_text_renderer_color_and_plain():
    plain = render_text(one_finding(), color=False)
    colored = render_text(one_finding(), color=True)
    assert "\x1b[" not in plain and "\x1b[" in colored
    assert "[port-not-listening]" in plain and "[port-not-listening]" in colored
    # host output cannot drive the terminal
    o = hostile()
    o.diagnosis.findings[0].evidence.append("\x1b]0;pwned\x07\x1b[2J")
    out = render_text(o, color=True)
    assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\x07" not in out


def test_text_shows_every_finding_no_truncation():
    out = render_text(many_findings(), color=False)
    for f in many_findings().diagnosis.findings:
        assert f"[{f.id}]" in out


def test_manifest_matches_what_the_app_listens_to():
    m = yaml.safe_load((REPO / "slack-app-manifest.yaml").read_text())
    assert sorted(m["settings"]["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert sorted(m["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "chat:write",
        "commands",
        "files:read",
        "files:write",
        "im:history",
        "reactions:write",
        "usergroups:read",
    ]
    assert m["features"]["slash_commands"][0]["command"] == "/whycant"
