"""Issue 11, point 2, against the real service (real rules, local probes, SQLite, real TCP listener):

- "twenty people asking about db01 at once sent exactly twenty times the SYNs": now one collection,
  one ask's SYNs at the target, one incident with one evidence row and twenty askers;
- "ten mentions in 0.1 s from one user ran ten diagnoses" (through the Slack stand-in, HTTP mode,
  real Bolt app): now one diagnosis and nine friendly replies;
- the per-target SYN budget: a second ask past it does not connect, and says which limit stopped it;
- "100 concurrent asks": 100 asks about 20 targets are 20 collections and 20 incidents (the p95 is
  bench_load's figure, not a test's).
"""

from __future__ import annotations

import asyncio

import pytest

from bot.service import Whycant
from bot.slack.app import build_app
from bot.slack.http import start_http
from tests.load.helpers import (
    CountingListener,
    count_collections,
    db_counts,
    local_config,
)
from tests.slack import standin as si


@pytest.fixture
async def listener():
    lst = await CountingListener().start()
    yield lst
    await lst.close()


@pytest.fixture
async def service_factory(tmp_path, listener):
    made: list[Whycant] = []

    async def make(**limits):
        svc = await Whycant.create(local_config(tmp_path, listener.port, **limits))
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.close()


async def test_twenty_people_at_once_share_one_collection_and_one_incident(service_factory, listener):
    svc = await service_factory()
    collections = count_collections(svc)
    question = f"why can't I connect to localhost:{listener.port}"
    outs = await asyncio.gather(*(svc.handle(question, who=f"U{i:02d}", channel="C0OPS") for i in range(20)))

    assert [o.kind for o in outs] == ["diagnosis"] * 20
    assert collections[0] == 1
    # counted at the target: one ask's SYNs (3 attempts from the bot vantage), not twenty times that
    assert listener.accepted == svc.config.probe.connect_attempts
    assert len({id(o.evidence) for o in outs}) == 1 and len({o.diagnosis.verdict for o in outs}) == 1
    ids = {o.incident.id for o in outs}
    assert len(ids) == 1 and None not in ids
    assert sum(1 for o in outs if not o.incident.joined) == 1
    assert await db_counts(svc) == {"incidents": 1, "evidence": 1, "askers": 20, "asked_count": 20}
    assert all(o.incident.storage_error is None for o in outs)


async def test_a_later_ask_runs_again_and_joins_the_open_incident(service_factory, listener):
    svc = await service_factory()
    question = f"why can't I connect to localhost:{listener.port}"
    a = await svc.handle(question, who="U1", channel="C1")
    b = await svc.handle(question, who="U2", channel="C1")
    assert listener.accepted == 2 * svc.config.probe.connect_attempts  # not cached: a fresh look
    assert a.incident.id == b.incident.id and b.incident.joined
    assert (await db_counts(svc))["evidence"] == 2


async def test_syn_budget_stops_the_second_collection_and_names_the_limit(service_factory, listener):
    svc = await service_factory(syn_per_target_per_minute=3, syn_wait_seconds=0)
    question = f"why can't I connect to localhost:{listener.port}"
    first = await svc.handle(question, who="U1", channel="C1")
    assert first.evidence.connect[0].error is None and listener.accepted == 3
    second = await svc.handle(question, who="U2", channel="C1")
    c = second.evidence.connect[0]
    assert c.error_kind == "rate-limited" and "syn_per_target_per_minute: 3" in c.error and not c.attempts
    assert second.evidence.partial and second.diagnosis.partial
    assert listener.accepted == 3  # no SYN went out for the second ask


async def test_rate_limit_per_user_applies_to_chat_only(service_factory, listener):
    svc = await service_factory(asks_per_user_per_minute=2)
    question = f"localhost:{listener.port}"
    kinds = [(await svc.handle(question, who="U1", channel="C1")).kind for _ in range(3)]
    assert kinds == ["diagnosis", "diagnosis", "text"]
    # the console / CLI (no channel) is not rate limited
    assert (await svc.handle(question, who="U1")).kind == "diagnosis"


# ----------------------------------------------------------------- through Slack
@pytest.fixture
async def standin():
    s = await si.StandIn().start()
    yield s
    await s.close()


async def test_ten_mentions_in_a_tenth_of_a_second_give_one_diagnosis_and_friendly_replies(
    service_factory, listener, standin
):
    svc = await service_factory()
    collections = count_collections(svc)
    app = build_app(
        svc,
        svc.config,
        token=si.BOT_TOKEN,
        signing_secret=si.SIGNING_SECRET,
        base_url=standin.api_url,
        progress_interval=0.0,
    )
    runner, port = await start_http(app, 0, host="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port}/slack/events"
        payloads = [
            standin.mention(f"why can't I connect to localhost:{listener.port}", user="U0ALICE") for _ in range(10)
        ]
        statuses = await asyncio.gather(*(standin.deliver_http(url, "events", p) for p in payloads))
        assert [s for s, _, _ in statuses] == [200] * 10
        await app.whycant.drain(20)
    finally:
        await runner.cleanup()

    assert collections[0] == 1
    assert listener.accepted == svc.config.probe.connect_attempts
    friendly = [c for c in standin.calls_of("chat.postEphemeral") if c.ok]
    assert len(friendly) == 9
    assert all("already diagnosing" in c.dump() or "asks_per_user_per_minute" in c.dump() for c in friendly)
    assert all(c.args.get("user") == "U0ALICE" for c in friendly)
    finals = [
        c for c in standin.sent() if c.method in ("chat.update", "chat.postMessage") and "whycant_rerun" in c.dump()
    ]
    assert len(finals) == 1  # one diagnosis reply, with its buttons
    assert await db_counts(svc) == {"incidents": 1, "evidence": 1, "askers": 1, "asked_count": 1}
    assert standin.violations == []


async def test_hundred_concurrent_asks_about_twenty_targets_run_twenty_collections(tmp_path):
    """Issue 11's 100-ask load, without timing (p95 is bench_load's figure): 100 asks about 20
    targets at once are 20 collections, 20 incidents with one evidence row each, and 100 answers."""
    from bot.config import parse_config

    listeners = [await CountingListener().start() for _ in range(20)]
    hosts = {
        f"t{i:02d}": {"address": "127.0.0.1", "transport": "local", "services": {"web": lst.port}}
        for i, lst in enumerate(listeners)
    }
    cfg = parse_config(
        {
            "database": f"sqlite:///{tmp_path}/whycant.db",
            "hosts": hosts,
            "probe": {"window_seconds": 0.3, "connect_attempts": 3, "connect_timeout": 1, "connect_interval": 0.01},
        },
        source=str(tmp_path / "whycant.yaml"),
    )
    svc = await Whycant.create(cfg)
    try:
        collections = count_collections(svc)
        asks = [(f"t{i % 20:02d}", listeners[i % 20].port, i) for i in range(100)]
        outs = await asyncio.gather(
            *(
                svc.handle(f"why can't I connect to {name}:{port}", who=f"U{i:03d}", channel=f"C{i % 10}")
                for name, port, i in asks
            )
        )
        assert [o.kind for o in outs] == ["diagnosis"] * 100
        assert collections[0] == 20
        assert [lst.accepted for lst in listeners] == [3] * 20  # one ask's SYNs per target
        assert await db_counts(svc) == {"incidents": 20, "evidence": 20, "askers": 100, "asked_count": 5}
        assert len({o.incident.id for o in outs}) == 20
    finally:
        await svc.close()
        for lst in listeners:
            await lst.close()
