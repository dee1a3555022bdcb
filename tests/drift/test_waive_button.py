"""The "Waive 30 days" button in the drift report's thread details (bot/drift/render.py)."""

from __future__ import annotations

import json

from bot.drift import render
from bot.slack.post import _chunks
from tests.slack.limits import check_blocks


def drift(host: str, key: str, kind: str = "baseline", value=1, **kw) -> dict:
    d = {
        "host": host,
        "key": key,
        "value": value,
        "expected": "== 0",
        "kind": kind,
        "finding": None,
        "severity": "warning",
        "fix": None,
        "detail": None,
    }
    d.update(kw)
    return d


def report(drifts: list[dict], waived: list[dict] | None = None) -> dict:
    return {
        "hosts": len({d["host"] for d in drifts}) or 1,
        "drifts": drifts,
        "errors": [],
        "waived": waived or [],
        "taken_at": "2025-01-01T00:00:00Z",
    }


def buttons(blocks: list[dict]) -> list[dict]:
    out = []
    for b in blocks:
        acc = b.get("accessory")
        if acc and acc.get("action_id") == render.WAIVE_ACTION:
            out.append(acc)
        for e in b.get("elements", []) if b.get("type") == "actions" else []:
            if e.get("action_id") == render.WAIVE_ACTION:
                out.append(e)
    return out


def targets(blocks: list[dict]) -> list[tuple[str, str]]:
    return [render.parse_waive_value(b["value"]) for b in buttons(blocks)]


def test_each_unwaived_host_key_gets_one_button_and_waived_ones_none():
    waived = drift(
        "db03",
        "net.core.somaxconn",
        "outlier",
        waived={"until": "2099-01-01T00:00:00+00:00", "reason": "OPS-1", "who": "alice", "id": 1},
    )
    r = report(
        [
            drift("db02", "net.ipv4.tcp_tw_recycle", "baseline"),
            drift("db02", "net.ipv4.tcp_tw_recycle", "known-bad", finding="tcp-tw-recycle"),
            drift("db02", "net.ipv4.tcp_tw_recycle", "outlier"),
            drift("db01", "net.core.somaxconn", "changed", value=1024),
        ],
        waived=[waived],
    )
    blocks = render.thread_blocks(r)
    # one per (host, key), never for the waived item, in report order (hosts sorted)
    assert targets(blocks) == [("db01", "net.core.somaxconn"), ("db02", "net.ipv4.tcp_tw_recycle")]
    for b in buttons(blocks):
        assert (b["text"]["type"], b["text"]["text"]) == ("plain_text", "Waive 30 days")
        assert b["confirm"]["title"]["text"] == "Waive this drift?"
        assert b["type"] == "button" and len(b["value"]) <= 2000
        assert json.loads(b["value"]).keys() == {"host", "key"}
    blob = json.dumps(blocks)
    assert "*Waived*" in blob and "OPS-1" in blob  # still listed as waived, without a button
    # every drift is still in the text, each button sits beside its own drift line
    assert blob.count("tcp_tw_recycle") >= 3
    for b in blocks:
        if b.get("accessory"):
            host, key = render.parse_waive_value(b["accessory"]["value"])
            assert f"*{host}*" in b["text"]["text"] and key in b["text"]["text"]
    assert check_blocks(blocks) == []


def test_value_round_trips_and_bad_values_are_refused():
    v = render.waive_value("db01", "net.ipv4.conf.all.rp_filter")
    assert v is not None and render.parse_waive_value(v) == ("db01", "net.ipv4.conf.all.rp_filter")
    assert render.parse_waive_value("db01|net.core.somaxconn") == ("db01", "net.core.somaxconn")
    for bad in (
        "",
        "nonsense",
        "{}",
        '{"host": "db01"}',
        '{"host": 1, "key": "a"}',
        "*|net.core.somaxconn",
        "group:db|net.core.somaxconn",
        "db01|*",
        '{"host": "<!channel>", "key": "a.b"}',
        '{"host": "db01", "key": "a<b"}',
        "db01|" + "a" * 2100,
        '["db01", "a.b"]',
    ):
        assert render.parse_waive_value(bad) is None, bad


def test_hostile_host_and_key_text_is_escaped_and_gets_no_button():
    r = report(
        [
            drift("<!channel>", "net.core.somaxconn", value="<https://evil|x>"),
            drift("db01", "kernel.<@U0EVIL>&", value="<!here>", expected="== <b>"),
            drift("db02", "net.core.somaxconn", value="<!everyone> & co", detail="from <#C0X>"),
        ]
    )
    blocks = render.thread_blocks(r)
    assert targets(blocks) == [("db02", "net.core.somaxconn")]  # only the clean target can be waived
    blob = json.dumps(blocks)
    for raw in ("<!channel>", "<https://", "<@U0EVIL>", "<!here>", "<!everyone>", "<#C0X>"):
        assert raw not in blob
    assert "&lt;!channel&gt;" in blob and "&lt;!everyone&gt; &amp; co" in blob
    assert check_blocks(blocks) == []


def test_limits_many_drifts_buttons_capped_with_a_visible_more_and_chunks_fit():
    drifts = [
        drift(f"db{i:03d}", key, value=i)
        for i in range(40)
        for key in ("net.core.somaxconn", "net.ipv4.tcp_tw_recycle", "net.ipv4.tcp_max_syn_backlog")
    ]
    blocks = render.thread_blocks(report(drifts))
    assert len(buttons(blocks)) == render.MAX_WAIVE_BUTTONS
    more = [b for b in blocks if b["type"] == "context" and "…and" in b["elements"][0]["text"]]
    assert len(more) == 1
    assert f"…and {120 - render.MAX_WAIVE_BUTTONS} more drifts" in more[0]["elements"][0]["text"]
    assert "whycant drift waive" in more[0]["elements"][0]["text"]
    # every drift is still named, with or without a button
    blob = json.dumps(blocks)
    assert all(f"*db{i:03d}*" in blob for i in range(40))
    # the poster's 50-block chunks each pass Slack's limits
    for chunk in _chunks(blocks):
        assert len(chunk) <= 50 and check_blocks(chunk) == []


def test_long_host_text_is_split_within_section_limits():
    fix = "sysctl -w net.core.somaxconn=65535\n" * 40
    drifts = [drift("db01", f"net.ipv4.k{i}", detail="d" * 300, fix=fix) for i in range(30)]
    blocks = render.thread_blocks(report(drifts), max_buttons=3)
    assert len(buttons(blocks)) == 3
    assert check_blocks(blocks[:50]) == []
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert sum(json.dumps(b).count("net.ipv4.k") for b in blocks) >= 30


def test_buttons_can_be_left_out():
    blocks = render.thread_blocks(report([drift("db01", "net.core.somaxconn")]), buttons=False)
    assert buttons(blocks) == [] and "net.core.somaxconn" in json.dumps(blocks)


def test_no_drift_no_button():
    blocks = render.thread_blocks(report([]))
    assert buttons(blocks) == [] and check_blocks(blocks) == []


async def test_waiving_twice_extends_the_same_waiver(tmp_path):
    from datetime import timedelta

    from bot.drift.store import DriftStore, utcnow
    from bot.storage.db import Database

    db = Database(f"sqlite:///{tmp_path}/w.db")
    await db.upgrade()
    store = DriftStore(db)
    try:
        first = await store.add_waiver("db01", "net.core.somaxconn", utcnow() + timedelta(days=1), "a", "U1")
        second = await store.add_waiver("db01", "net.core.somaxconn", utcnow() + timedelta(days=30), "b", "U2")
        other = await store.add_waiver("db01", "net.ipv4.tcp_tw_recycle", None, "c", "U1")
        assert first == second != other
        rows = await store.waivers()
        assert len(rows) == 2
        mine = next(r for r in rows if r["key"] == "net.core.somaxconn")
        assert mine["reason"] == "b" and mine["who"] == "U2"
    finally:
        await db.dispose()
