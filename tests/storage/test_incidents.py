"""Incident lifecycle, joining, triage, history and replay — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.storage.errors import IncidentNotFound, InvalidTransition
from bot.storage.incidents import IncidentService
from probes.errors import BadInput

from .factories import fake_diagnose, make_diagnosis, make_evidence, make_request


async def test_lifecycle_open_ack_resolve(svc: IncidentService):
    ref = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice", "C1", "111.1")
    assert (ref.joined, ref.askers, ref.asked_count, ref.status, ref.target) == (False, 1, 1, "open", "db01:5432")

    [item] = await svc.list()
    assert (item.id, item.status, item.top_severity, item.verdict) == (
        ref.id,
        "open",
        "critical",
        "listen-queue-overflow on the target",
    )
    d = await svc.get(ref.id)
    assert d.findings[0]["id"] == "listen-queue-overflow" and d.findings[0]["rule_version"] == "2"
    assert d.findings[0]["fix"]["runtime"] == "fix listen-queue-overflow"
    assert d.latest_evidence["counters_delta"] == {"TcpExt.ListenOverflows": 120, "TcpExt.ListenDrops": 120}
    assert d.latest_evidence["connect"][0]["timeout"] == 1
    assert (d.incident.channel, d.incident.thread_ts) == ("C1", "111.1")
    # the stored evidence round-trips to the same Evidence
    assert (await svc.evidence(ref.id)) == make_evidence()

    assert (await svc.ack(ref.id, "bob")).status == "acked"
    assert (await svc.ack(ref.id, "bob")).status == "acked"  # idempotent, no second audit entry
    r = await svc.resolve(ref.id, "carol", note="raised somaxconn")
    assert r.status == "resolved" and r.resolved_at is not None
    d = await svc.get(ref.id)
    assert [a["action"] for a in d.audit] == ["asked", "acked", "resolved"]
    assert [a["who"] for a in d.audit] == ["alice", "bob", "carol"]
    assert d.resolution_note == "raised somaxconn" and d.resolved_by == "carol"
    with pytest.raises(InvalidTransition):
        await svc.ack(ref.id, "bob")
    as_json = d.to_dict()
    assert as_json["id"] == ref.id and as_json["resolved_at"].endswith("+00:00")


async def test_second_ask_joins_with_text(svc: IncidentService):
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    a = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice", at=t0)
    b = await svc.record_diagnosis(
        make_request(),
        make_evidence(overflows=7),
        make_diagnosis("backlog-undersized", severity="warning"),
        "bob",
        at=t0 + timedelta(minutes=4),
    )
    c = await svc.record_diagnosis(
        make_request(), make_evidence(), make_diagnosis(), "carol", at=t0 + timedelta(minutes=9, seconds=30)
    )
    assert a.id == b.id == c.id and (b.joined, c.joined) == (True, True)
    assert (c.askers, c.asked_count) == (3, 3)
    assert c.recent_askers_text == "3 people asked about db01:5432 in the last 10 minutes"
    assert b.recent_askers_text == "2 people asked about db01:5432 in the last 4 minutes"
    d = await svc.get(a.id)
    assert [x["who"] for x in d.askers] == ["alice", "bob", "carol"]
    assert len(d.evidence) == 3  # every ask attaches its evidence
    assert [x["action"] for x in d.audit] == ["asked", "joined", "joined"]
    assert d.incident.asked_count == 3 and len(await svc.list()) == 1


async def test_same_person_twice_counts_once(svc: IncidentService):
    await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice")
    r = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice")
    assert r.joined and r.askers == 1 and r.asked_count == 2
    assert r.recent_askers_text == "1 person asked about db01:5432 in the last minute"


async def test_other_port_or_host_opens_another(svc: IncidentService):
    a = await svc.record_diagnosis(make_request(port=5432), make_evidence(), make_diagnosis(), "alice")
    b = await svc.record_diagnosis(make_request(port=6432), make_evidence(port=6432), make_diagnosis(), "bob")
    c = await svc.record_diagnosis(make_request("db02"), make_evidence("db02"), make_diagnosis(), "bob")
    d = await svc.record_diagnosis(make_request(port=None), make_evidence(port=None), make_diagnosis(), "bob")
    e = await svc.record_diagnosis(make_request(port=None), make_evidence(port=None), make_diagnosis(), "eve")
    assert len({a.id, b.id, c.id, d.id}) == 4 and not any(x.joined for x in (a, b, c, d))
    assert e.id == d.id and e.joined and e.target == "db01"


async def test_resolve_then_new_ask_opens_new(svc: IncidentService):
    a = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice")
    b = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "bob")
    assert a.id == b.id
    await svc.resolve(a.id, "alice")
    c = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "carol")
    assert c.id != a.id and not c.joined and c.askers == 1
    assert [i.id for i in await svc.list(status="open")] == [c.id]
    assert [i.id for i in await svc.list(status="resolved")] == [a.id]


async def test_acked_incident_still_joins(svc: IncidentService):
    a = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice")
    await svc.ack(a.id, "oncall")
    b = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "bob")
    assert b.id == a.id and b.joined and b.status == "acked"


async def test_join_window_expires(db):
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    svc = IncidentService(db, join_window_minutes=10)
    a = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice", at=t0)
    b = await svc.record_diagnosis(
        make_request(), make_evidence(), make_diagnosis(), "bob", at=t0 + timedelta(minutes=9)
    )
    # the window counts from the last ask: 9 + 9 minutes still joins, 9 + 11 does not
    c = await svc.record_diagnosis(
        make_request(), make_evidence(), make_diagnosis(), "carol", at=t0 + timedelta(minutes=18)
    )
    d = await svc.record_diagnosis(
        make_request(), make_evidence(), make_diagnosis(), "dave", at=t0 + timedelta(minutes=29)
    )
    assert a.id == b.id == c.id and d.id != a.id and not d.joined
    off = IncidentService(db, join_window_minutes=0)  # 0 turns joining off
    e = await off.record_diagnosis(
        make_request(), make_evidence(), make_diagnosis(), "eve", at=t0 + timedelta(minutes=29, seconds=5)
    )
    assert e.id not in (a.id, d.id)


async def test_list_filters_and_history(svc: IncidentService):
    ids = {}
    for host, port in [("db01", 5432), ("db02", 5432), ("web01", 443), ("db01", 6432)]:
        r = await svc.record_diagnosis(make_request(host, port), make_evidence(host, port), make_diagnosis(), "x")
        ids[(host, port)] = r.id
    await svc.ack(ids[("db02", 5432)], "x")
    await svc.resolve(ids[("web01", 443)], "x")
    assert [i.id for i in await svc.list()] == sorted(ids.values(), reverse=True)
    assert [i.id for i in await svc.list(limit=2)] == sorted(ids.values(), reverse=True)[:2]
    assert [i.host for i in await svc.list(status="acked")] == ["db02"]
    assert {i.host for i in await svc.list(status="open,acked")} == {"db01", "db02"}
    assert {i.port for i in await svc.list(host="db01")} == {5432, 6432}
    assert [i.host for i in await svc.list(host="db01", status="resolved")] == []
    with pytest.raises(BadInput, match="unknown status"):
        await svc.list(status="closed")
    hist = await svc.history("db01")
    assert [i.port for i in hist] == [6432, 5432]
    assert hist[0].finding_ids == ["listen-queue-overflow"]
    assert hist[0].to_dict()["target"] == "db01:6432"
    assert await svc.history("nosuchhost") == []


async def test_unknown_id(svc: IncidentService):
    for call in (
        svc.get(999),
        svc.ack(999, "x"),
        svc.resolve(999, "x"),
        svc.record_action(999, "verified", "x"),
        svc.replay(999, fake_diagnose),
    ):
        with pytest.raises(IncidentNotFound, match="no incident 999"):
            await call


async def test_record_action_rerun_and_reply(svc: IncidentService):
    a = await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "alice")
    await svc.record_action(a.id, "verified", "bob", {"fix": "sysctl -w net.core.somaxconn=4096"})
    with pytest.raises(BadInput):
        await svc.record_action(a.id, "DROP TABLE", "bob")
    await svc.attach_evidence(
        a.id, make_evidence(overflows=0), make_diagnosis("backlog-undersized", severity="warning"), "bob"
    )
    await svc.set_reply(a.id, "C9", "9.9", "9.10")
    d = await svc.get(a.id)
    assert [x["action"] for x in d.audit] == ["asked", "verified", "rerun"]
    assert d.audit[1]["detail"] == {"fix": "sysctl -w net.core.somaxconn=4096"}
    assert [f["id"] for f in d.findings] == ["backlog-undersized"]  # the latest diagnosis
    assert d.incident.top_severity == "warning" and len(d.evidence) == 2
    assert (d.incident.channel, d.reply_ts) == ("C9", "9.10")


async def test_replay_shows_added_removed_changed(svc: IncidentService):
    a = await svc.record_diagnosis(
        make_request(),
        make_evidence(),
        make_diagnosis("listen-queue-overflow", "tcp-tw-recycle", severity="warning"),
        "al",
    )
    r = await svc.replay(a.id, fake_diagnose, who="bob")
    assert [c.id for c in r.added] == ["backlog-undersized"]
    assert [c.id for c in r.removed] == ["tcp-tw-recycle"]
    assert [(c.id, c.before_severity, c.severity) for c in r.changed] == [
        ("listen-queue-overflow", "warning", "critical")
    ]
    assert r.differs and r.to_dict()["added"][0]["id"] == "backlog-undersized"
    d = await svc.get(a.id)
    assert d.audit[-1]["action"] == "replayed" and d.audit[-1]["detail"]["removed"] == ["tcp-tw-recycle"]
    assert [f["id"] for f in d.findings] == ["listen-queue-overflow", "tcp-tw-recycle"]  # stored ones unchanged

    async def async_diagnose(ev):  # async diagnose functions work too
        return make_diagnosis("listen-queue-overflow", "tcp-tw-recycle", severity="warning")

    same = await svc.replay(a.id, async_diagnose)
    assert not same.differs and same.unchanged == ["listen-queue-overflow", "tcp-tw-recycle"]


async def test_start_finish_pair(svc: IncidentService):
    ref = await svc.start_diagnosis(make_request(), "alice", "C1", "1.1")
    [i] = await svc.list()
    assert i.diagnosing and i.verdict is None and ref.run == svc.runner
    joined = await svc.start_diagnosis(make_request(), "bob")
    assert joined.id == ref.id and joined.joined
    await svc.finish_diagnosis(ref, make_evidence(), make_diagnosis())
    await svc.finish_diagnosis(joined, make_evidence(), make_diagnosis())
    [i] = await svc.list()
    assert not i.diagnosing and i.verdict and i.asked_count == 2
    assert await svc.mark_interrupted_on_start() == []  # nothing left running


async def test_live_and_remote_runs_are_left_alone(svc: IncidentService, db):
    mine = await svc.start_diagnosis(make_request(), "alice")
    assert await svc.mark_interrupted_on_start() == []  # our own process is alive
    remote = IncidentService(db, runner="another-replica:123:456")  # a run on another host
    theirs = await remote.start_diagnosis(make_request("db02"), "bob")
    assert await svc.mark_interrupted_on_start() == []  # cannot tell: only once it is stale
    assert await svc.mark_interrupted_on_start(stale_after=timedelta(0)) == [theirs.id]
    assert (await svc.get(theirs.id)).incident.status == "interrupted"
    assert (await svc.get(mine.id)).incident.status == "open"
    # a diagnosis that finishes after all reopens it
    await remote.finish_diagnosis(theirs, make_evidence("db02"), make_diagnosis())
    d = await svc.get(theirs.id)
    assert d.incident.status == "open" and [a["action"] for a in d.audit] == ["asked", "interrupted", "reopened"]
    assert not d.incident.diagnosing
