"""Watch mode's pure parts: the chat grammar, durations, the SYN budget, episodes, stats, the chart."""

from __future__ import annotations

import pytest

from bot.request import parse_request
from bot.watch.chart import failures_png
from bot.watch.episodes import EpisodeTracker, counter_burst
from bot.watch.limits import SynBudget
from bot.watch.spec import parse_duration, split_watch_text
from bot.watch.stats import record, summary, text_table
from probes.errors import BadInput


@pytest.mark.parametrize(
    "text,seconds", [("4h", 14400), ("90s", 90), ("1h30m", 5400), ("2 hours", 7200), ("15", 15), ("10 min", 600)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "4x", "h", "4h banana", ""])
def test_parse_duration_refuses(text):
    with pytest.raises(BadInput, match="use e.g. 30s"):
        parse_duration(text)


def test_split_watch_text():
    wt = split_watch_text("watch db01:5432 from office for 4h every 10s")
    assert (wt.question, wt.duration_s, wt.interval_s) == ("db01:5432 from office", 14400, 10)
    assert split_watch_text("db01:postgres every 1m").interval_s == 60
    with pytest.raises(BadInput, match="between 1s and 3600s"):
        split_watch_text("watch db01:5432 every 2h")
    with pytest.raises(BadInput, match="7 days"):
        split_watch_text("watch db01:5432 for 30d")
    with pytest.raises(BadInput, match="watch what"):
        split_watch_text("watch for 4h")


def test_chat_grammar():
    p = parse_request("watch db01:5432 from office for 4h")
    assert (p.intent, p.args) == ("watch", ["db01:5432 from office for 4h"])
    assert parse_request("watches").intent == "watches"
    assert (parse_request("unwatch #3").intent, parse_request("unwatch #3").args) == ("unwatch", ["3"])
    with pytest.raises(BadInput, match="unwatch needs a watch number"):
        parse_request("unwatch db01")


def test_syn_budget_sliding_window():
    now = [0.0]
    b = SynBudget(10, clock=lambda: now[0])
    assert b.take("t", 4) == 4 and b.take("t", 8) == 6 and b.take("t", 1) == 0
    assert b.take("other", 10) == 10  # per target
    now[0] = 59.9
    assert b.left("t") == 0
    now[0] = 60.0
    assert b.left("t") == 10 and b.take("t", 3) == 3


def test_three_flaps_make_three_episodes():
    t = EpisodeTracker()
    kinds = []
    rounds = ["ok", "timeout", "timeout", "timeout", "ok", "timeout", "ok", "ok", "timeout", "timeout", "ok"]
    for i, o in enumerate(rounds):
        kinds += [(c.kind, c.episode.number) for c in t.observe(float(i), {"office": o, "bot": "ok"})]
    assert kinds == [
        ("started", 1),
        ("recovered", 1),
        ("started", 2),
        ("recovered", 2),
        ("started", 3),
        ("recovered", 3),
    ]
    assert [(e.start, e.end, e.failed_attempts, e.vantages) for e in t.episodes] == [
        (1.0, 4.0, 3, ["office"]),
        (5.0, 6.0, 1, ["office"]),
        (8.0, 10.0, 2, ["office"]),
    ]


def test_counter_burst_opens_an_episode_without_a_failed_attempt():
    assert counter_burst(
        {"TcpExt.ListenOverflows": 5, "TcpExt.InSegs": 1}, {"TcpExt.ListenOverflows": 9, "TcpExt.InSegs": 100}
    ) == {"TcpExt.ListenOverflows": 4}
    t = EpisodeTracker()
    ch = t.observe(1.0, {"bot": "ok"}, {"TcpExt.ListenDrops": 3})
    assert [c.kind for c in ch] == ["started"] and t.current.burst == {"TcpExt.ListenDrops": 3}
    assert t.observe(2.0, {}, {}) == []  # a round with no attempt (all capped) does not end it
    assert [c.kind for c in t.observe(3.0, {"bot": "ok"})] == ["recovered"]


def test_summary_and_table():
    buckets: dict = {}
    for i in range(130):  # 13 minutes at 6 s, across an hour boundary
        at = 3600 * 5 - 360 + i * 6
        record(buckets, "office", at, ok=not (60 <= i < 70))
        record(buckets, "bot", at, ok=True)
    s = summary(
        buckets,
        [
            {
                "number": 1,
                "start": 3600 * 5.0,
                "end": 3600 * 5 + 60.0,
                "vantages": ["office"],
                "findings": [{"id": "filtered-from-vantage"}],
                "incident": 7,
            }
        ],
        capped=2,
    )
    assert s["attempts"] == {"office": 130, "bot": 130} and s["failures"] == {"office": 10, "bot": 0}
    assert [(r["hour"][11:13], r["vantage"], r["attempts"]) for r in s["per_hour"]] == [
        ("04", "bot", 60),
        ("04", "office", 60),
        ("05", "bot", 70),
        ("05", "office", 70),
    ]
    assert s["findings"] == {"filtered-from-vantage": 1}
    table = text_table(s)
    assert "office            130       10   7.7%" in table
    assert "#1 05:00:00–05:01:00 office: filtered-from-vantage incident 7" in table
    assert "SYN cap: 2" in table


def test_chart_is_a_png_with_a_line_per_vantage():
    buckets: dict = {}
    record(buckets, "office", 600.0, ok=False)
    record(buckets, "bot", 660.0, ok=True)
    png = failures_png(buckets, title="t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert failures_png({}, title="empty")[:4] == b"\x89PNG"
