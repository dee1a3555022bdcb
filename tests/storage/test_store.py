"""The one storage API front ends use (open_store → Store): typed results, start/finish, outage → storage_error."""

from __future__ import annotations

import socket

from bot.config import parse_config
from bot.storage.incidents import IncidentService
from bot.storage.results import IncidentDetail, IncidentSummary
from bot.storage.store import StorageTrouble, open_store
from probes.evidence import Request

from .factories import make_diagnosis, make_evidence, make_request


async def test_store_round_trip(db_url: str, db):
    cfg = parse_config({"database": db_url, "join_window_minutes": 10})
    # a run left behind by a dead process on another host is cleared when the store opens
    ghost = IncidentService(db, runner="gone-host:1:1")
    await ghost.start_diagnosis(make_request("db09"), "ghost")
    store = await open_store(cfg, mark_interrupted=False)
    try:
        pending = await store.start_diagnosis(request=make_request(), who="alice", channel="C1", thread_ts="1.1")
        info = await store.record_or_retry(
            request=make_request(),
            evidence=make_evidence(),
            diagnosis=make_diagnosis(),
            who="alice",
            channel="C1",
            thread_ts="1.1",
            pending=pending,
        )
        assert info.id == pending.id and info.storage_error is None and not info.joined
        info2 = await store.record_or_retry(
            request=make_request(), evidence=make_evidence(), diagnosis=make_diagnosis(), who="bob"
        )
        assert info2.id == info.id and info2.joined and info2.askers == 2
        assert info2.askers_text == "2 people asked about db01:5432 in the last minute"

        items = await store.open_incidents()
        assert all(isinstance(i, IncidentSummary) for i in items)
        assert {i.host for i in items} == {"db01", "db09"}
        mine = next(i for i in items if i.host == "db01")
        assert mine.top_severity == "critical" and mine.asked_count == 2 and mine.age_s() >= 0
        chat = mine.chat_dict()
        assert chat["severity"] == "critical" and chat["askers"] == 2 and chat["age_s"] >= 0
        assert chat["target"] == "db01:5432" and chat["id"] == info.id
        assert await store.count_open() == 2
        inc = await store.get(info.id)
        assert isinstance(inc, IncidentDetail)
        request = await store.request_of(inc)
        assert isinstance(request, Request) and request.target == "db01"
        assert Request.model_validate(inc.chat_dict(request)["request"]).target == "db01"
        assert [f["id"] for f in inc.findings] == ["listen-queue-overflow"] and inc.incident.thread_ts == "1.1"
        evidence = await store.latest_evidence(info.id)
        assert evidence is not None and evidence.target is not None and evidence.target.host == "db01"
        await store.record_action(info.id, "rerun", who="bob", detail={"gone": []})
        assert (await store.ack(info.id, who="carol")).status == "acked"
        assert (await store.resolve(info.id, who="carol", note="ok")).status == "resolved"
        assert [h.id for h in await store.history("db01")] == [info.id]
        assert await store.claim_event("Ev1") is True and await store.claim_event("Ev1") is False
    finally:
        await store.close()


async def test_open_store_marks_interrupted_and_outage_keeps_answer(db_url: str, db):
    ghost = IncidentService(db, runner=f"{socket.gethostname()}:999999:1")  # a dead PID on this host
    ref = await ghost.start_diagnosis(make_request("db07"), "ghost")
    store = await open_store(parse_config({"database": db_url}))
    try:
        assert (await store.get(ref.id)).incident.status == "interrupted"
    finally:
        await store.close()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = await open_store(parse_config({"database": db_url}))
    down.service.db = type(down.db)(f"postgresql://postgres@127.0.0.1:{port}/none", connect_timeout=2)
    try:
        info = await down.record_or_retry(
            request=make_request(),
            evidence=make_evidence(),
            diagnosis=make_diagnosis(),
            who="alice",
            attempts=1,
            base_delay=0.01,
        )
        assert info.id is None and info.storage_error == "incident not stored: database unavailable (retrying)"
        # the ask pipeline's bounded calls never raise: the reason comes back instead
        trouble = await down.start_diagnosis(request=make_request(), who="alice")
        assert isinstance(trouble, StorageTrouble) and trouble.reason.startswith("database unavailable")
        assert await down.interrupt_runs("SIGTERM") == []
    finally:
        await down.close()
        await down.db.dispose()
