"""Two bot processes (replicas, or one restarted) share one database: a firing alert is diagnosed once,
a later alert about the same target and the resolution land in the first replica's thread.
Real core (local transport, SQLite), real Bolt client against the Slack stand-in, in-process."""

from __future__ import annotations

import yaml

from bot.alertmanager import parse_notification
from bot.config import parse_config
from bot.service import Whycant
from bot.slack.alerts import AlertIntake, Credentials
from bot.slack.app import build_app
from tests.service.procs import closed_port, serve_config
from tests.slack import standin as si


async def _replica(cfg, standin):
    svc = await Whycant.create(cfg)
    app = build_app(svc, cfg, token=si.BOT_TOKEN, base_url=standin.api_url, socket_mode=True, progress_interval=0)
    return svc, app.whycant, AlertIntake(svc, app.whycant, app.client, cfg, Credentials(token="t"))


def _note(status: str, name: str, target: str, fp: str) -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "dba",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "whycant_target": target},
                "startsAt": "2026-01-01T00:00:00Z",
                "fingerprint": fp,
            }
        ],
    }


def _posts(standin) -> list:
    return [c for c in standin.calls_of("chat.postMessage") if c.ok]


async def test_a_second_replica_joins_the_first_ones_thread(standin, tmp_path):
    port = closed_port()
    cfg = parse_config(yaml.safe_load(serve_config(tmp_path, port=port).read_text()), str(tmp_path / "w.yaml"))
    a_svc, a_fe, a = await _replica(cfg, standin)
    b_svc, b_fe, b = await _replica(cfg, standin)
    try:
        target = f"db01:{port}"
        out = await a.accept(parse_notification(_note("firing", "PgDown", target, "fp1")))
        assert [d["target"] for d in out["diagnosing"]] == [target]
        await a_fe.drain(30)
        root = next(c for c in _posts(standin) if not c.args.get("thread_ts"))
        diag = next(c for c in _posts(standin) if c.args.get("thread_ts") and "port-not-listening" in c.dump())
        thread = diag.args["thread_ts"]
        assert root.args["channel"] == "C0DBA"

        out = await b.accept(parse_notification(_note("firing", "PgDown", target, "fp1")))  # Alertmanager repeat
        assert out["diagnosing"] == [] and len(out["duplicate"]) == 1

        n_roots = len([c for c in _posts(standin) if not c.args.get("thread_ts")])
        out = await b.accept(parse_notification(_note("firing", "PgRefused", target, "fp2")))
        assert [d["target"] for d in out["diagnosing"]] == [target]
        await b_fe.drain(30)
        assert len([c for c in _posts(standin) if not c.args.get("thread_ts")]) == n_roots  # no new root
        again = [c for c in _posts(standin) if c.args.get("thread_ts") == thread and "PgRefused" in c.dump()]
        assert again, "replica B did not find replica A's thread"
        joined = [
            c for c in _posts(standin) if c.args.get("thread_ts") == thread and "joined the open incident" in c.dump()
        ]
        assert joined

        out = await b.accept(parse_notification(_note("resolved", "PgDown", target, "fp1")))
        assert len(out["resolved"]) == 1
        await b_fe.drain(10)
        assert [c for c in _posts(standin) if c.args.get("thread_ts") == thread and "resolved" in c.dump()]
        assert standin.violations == []
        rows = await a_svc.store.list_incidents()
        assert [r.asked_count for r in rows if r.port == port] == [2]
    finally:
        await a_svc.close()
        await b_svc.close()
