"""A diagnosis cut off by kill -9 is marked `interrupted` at the next start, not left `open` forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from bot.storage.incidents import IncidentService

from .factories import make_diagnosis, make_evidence, make_request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from bot.storage.db import Database
    from bot.storage.incidents import IncidentService
    from probes.evidence import Request

    async def main():
        svc = IncidentService(Database(sys.argv[1]), join_window_minutes=10)
        ref = await svc.start_diagnosis(Request(target="db01", address="198.18.0.10", port=5432), "alice")
        print(ref.id, flush=True)
        await asyncio.sleep(120)  # "probing" until killed

    asyncio.run(main())
""")


async def test_kill_9_mid_diagnosis_leaves_incident_interrupted(svc: IncidentService, db_url: str):
    done = await svc.record_diagnosis(make_request("web01", 443), make_evidence("web01", 443), make_diagnosis(), "x")
    env = {**os.environ, "PYTHONPATH": REPO}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read()
        incident_id = int(line)
        [item] = await svc.list(status="open", host="db01")
        assert item.id == incident_id and item.diagnosing
        # while the child lives, a (re)starting replica on this host leaves its run alone
        assert await svc.mark_interrupted_on_start() == []
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        child.stdout.close()
        child.stderr.close()

    # the restart
    restarted = IncidentService(svc.db, join_window_minutes=10)
    assert await restarted.mark_interrupted_on_start() == [incident_id]
    d = await restarted.get(incident_id)
    assert d.incident.status == "interrupted" and not d.incident.diagnosing
    assert [a["action"] for a in d.audit] == ["asked", "interrupted"]
    assert d.audit[-1]["detail"]["previous_status"] == "open"
    assert (await restarted.get(done.id)).incident.status == "open"  # finished incidents are untouched
    assert await restarted.mark_interrupted_on_start() == []  # idempotent
    # the next ask about the target opens a fresh incident
    ref = await restarted.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "bob")
    assert ref.id != incident_id and not ref.joined
