"""`whycant db ...` and `whycant incidents ...` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import bot.cli_incidents as cli_incidents
from bot.cli import main
from bot.storage.db import Database
from bot.storage.incidents import IncidentService

from .factories import fake_diagnose, make_diagnosis, make_evidence, make_request

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def seed(url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        svc = IncidentService(Database(url), join_window_minutes=10)
        try:
            a = await svc.record_diagnosis(
                make_request(), make_evidence(), make_diagnosis("listen-queue-overflow", "tcp-tw-recycle"), "alice"
            )
            await svc.record_diagnosis(make_request(), make_evidence(), make_diagnosis(), "bob")
            b = await svc.record_diagnosis(
                make_request("web01", 443), make_evidence("web01", 443), make_diagnosis("port-not-listening"), "carol"
            )
            return {"db01": a.id, "web01": b.id}
        finally:
            await svc.close()

    return asyncio.run(go())


def test_db_commands(capsys, config_file: str):
    assert run(capsys, "db", "downgrade", "base", "-c", config_file)[0] == 0  # the PostgreSQL one is shared
    rc, out, _ = run(capsys, "db", "current", "-c", config_file)
    assert rc == 0 and "run `whycant db upgrade`" in out
    rc, out, _ = run(capsys, "db", "upgrade", "--config", config_file)
    assert rc == 0 and "-> 0002" in out
    rc, out, _ = run(capsys, "db", "upgrade", "-c", config_file)
    assert rc == 0 and "already at 0002" in out
    rc, out, _ = run(capsys, "db", "current", "-c", config_file)
    assert rc == 0 and "0002 (head 0002, up to date)" in out
    rc, out, _ = run(capsys, "db", "downgrade", "base", "-c", config_file)
    assert rc == 0 and "base" in out
    rc, out, _ = run(capsys, "db", "upgrade", "-c", config_file)
    assert rc == 0


def test_incidents_commands(capsys, config_file: str, db_url: str, monkeypatch):
    assert run(capsys, "db", "upgrade", "-c", config_file)[0] == 0
    ids = seed(db_url)
    db01, web01 = ids["db01"], ids["web01"]

    rc, out, _ = run(capsys, "incidents", "list", "--json", "-c", config_file)
    assert rc == 0
    items = json.loads(out)["incidents"]
    assert [i["id"] for i in items] == [web01, db01] and items[1]["asked_count"] == 2
    rc, out, _ = run(capsys, "incidents", "list", "--host", "db01", "--status", "open", "--json", "-c", config_file)
    assert [i["target"] for i in json.loads(out)["incidents"]] == ["db01:5432"]
    rc, out, _ = run(capsys, "incidents", "list", "-c", config_file)
    assert rc == 0 and "db01:5432" in out and "web01:443" in out

    rc, out, _ = run(capsys, "incidents", "show", str(db01), "--json", "-c", config_file)
    d = json.loads(out)
    assert rc == 0 and [f["id"] for f in d["findings"]] == ["listen-queue-overflow"]
    assert [a["who"] for a in d["askers"]] == ["alice", "bob"] and d["latest_evidence"]["connect"]
    rc, out, _ = run(capsys, "incidents", "show", str(web01), "-c", config_file)
    assert rc == 0 and "[port-not-listening]" in out and "audit" in out

    rc, out, _ = run(capsys, "incidents", "ack", str(db01), "--who", "U0ONCALL", "-c", config_file)
    assert rc == 0 and "acked" in out
    rc, out, _ = run(capsys, "incidents", "resolve", str(db01), "--note", "somaxconn raised", "-c", config_file)
    assert rc == 0 and "resolved" in out
    rc, out, _ = run(capsys, "incidents", "show", str(db01), "--json", "-c", config_file)
    d = json.loads(out)
    assert d["status"] == "resolved" and d["resolution_note"] == "somaxconn raised"
    assert [a["action"] for a in d["audit"]] == ["asked", "joined", "acked", "resolved"]
    assert d["audit"][2]["who"] == "U0ONCALL" and d["audit"][3]["who"].startswith("cli")

    rc, out, _ = run(capsys, "incidents", "history", "db01", "--json", "-c", config_file)
    h = json.loads(out)
    assert rc == 0 and [i["id"] for i in h["incidents"]] == [db01]
    assert h["incidents"][0]["finding_ids"] == ["listen-queue-overflow"]
    rc, out, _ = run(capsys, "incidents", "history", "db01", "-c", config_file)
    assert rc == 0 and "[listen-queue-overflow]" in out

    monkeypatch.setattr(cli_incidents, "DIAGNOSE_FN_FACTORY", lambda cfg: fake_diagnose)
    rc, out, _ = run(capsys, "incidents", "replay", str(web01), "--json", "-c", config_file)
    r = json.loads(out)
    assert rc == 0 and [c["id"] for c in r["added"]] == ["listen-queue-overflow", "backlog-undersized"]
    assert [c["id"] for c in r["removed"]] == ["port-not-listening"]
    rc, out, _ = run(capsys, "incidents", "replay", str(web01), "-c", config_file)
    assert rc == 0 and "+ added" in out and "[backlog-undersized]" in out and "- removed" in out

    # bad input: exit 2, one line on stderr
    rc, out, err = run(capsys, "incidents", "show", "999", "-c", config_file)
    assert rc == 2 and err.strip() == "whycant: no incident 999"
    for argv in (["ack", "999"], ["resolve", "999"], ["replay", "999"]):
        assert run(capsys, "incidents", *argv, "-c", config_file)[0] == 2
    rc, _, err = run(capsys, "incidents", "list", "--status", "closed", "-c", config_file)
    assert rc == 2 and "unknown status 'closed'" in err


def test_replay_uses_engine_when_no_factory(capsys, config_file: str, db_url: str):
    assert run(capsys, "db", "upgrade", "-c", config_file)[0] == 0
    ids = seed(db_url)
    rc, out, err = run(capsys, "incidents", "replay", str(ids["db01"]), "--json", "-c", config_file)
    if importlib.util.find_spec("bot.engine") is None:
        assert rc == 2 and "diagnosis engine" in err
    else:  # the real engine, on the stored evidence
        assert rc == 0, err
        assert "after_verdict" in json.loads(out)


def test_auto_upgrade_and_its_opt_out(capsys, tmp_path: Path, db_url: str):
    auto = tmp_path / "auto.yaml"
    auto.write_text(f"database: {db_url}\n")
    manual = tmp_path / "manual.yaml"
    manual.write_text(f"database: {db_url}\nauto_upgrade_db: false\n")
    assert run(capsys, "db", "downgrade", "base", "-c", str(auto))[0] == 0
    rc, _, err = run(capsys, "incidents", "list", "-c", str(manual))
    assert rc == 2 and "run `whycant db upgrade`" in err
    rc, out, _ = run(capsys, "incidents", "list", "--json", "-c", str(auto))  # upgrades on first use
    assert rc == 0 and json.loads(out) == {"incidents": []}


def test_database_down_is_one_line_exit_2(capsys, tmp_path: Path):
    cfg = tmp_path / "down.yaml"
    cfg.write_text("database: postgresql://whycant:pw@127.0.0.1:1/nope\n")
    rc, _, err = run(capsys, "incidents", "list", "-c", str(cfg))
    assert rc == 2 and err.startswith("whycant: database unavailable: postgresql+asyncpg://whycant:***@127.0.0.1:1/")
    assert "pw@" not in err and len(err.strip().splitlines()) == 1


def test_console_script(capsys, config_file: str, db_url: str):
    exe = REPO / ".venv" / "bin" / "whycant"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    assert run(capsys, "db", "upgrade", "-c", config_file)[0] == 0
    seed(db_url)
    p = subprocess.run(
        [*cmd, "incidents", "list", "--json", "-c", config_file], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["incidents"]) == 2
    p = subprocess.run(
        [*cmd, "incidents", "show", "424242", "-c", config_file], capture_output=True, text=True, env=env, timeout=60
    )
    assert p.returncode == 2 and "no incident 424242" in p.stderr
