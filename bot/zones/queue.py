"""The zone job queue: a procrastinate app on the shared PostgreSQL, plus whycant's two small tables
(runner heartbeats, job results; procrastinate keeps no task return values).

One procrastinate queue per zone (``zone.<name>``); every job is the task ``whycant.zone_job`` with
``key`` (unique per request, so a retried job's second answer is ignored), ``kind``, ``payload``
and ``deadline`` (epoch seconds: a runner drops a job it takes later than that).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext

from bot.storage.db import normalize_url

TASK_NAME = "whycant.zone_job"
RESULT_KEEP_SECONDS = 86400.0  # answers and silent runners are forgotten after a day

# whycant's own tables next to procrastinate's (applied by `whycant db upgrade` on PostgreSQL).
ZONE_SCHEMA = """
CREATE TABLE IF NOT EXISTS whycant_zone_runners (
    name text PRIMARY KEY,
    zone text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    in_flight integer NOT NULL DEFAULT 0,
    done integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS whycant_zone_results (
    key text PRIMARY KEY,
    zone text NOT NULL,
    runner text NOT NULL,
    status text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS whycant_zone_results_created ON whycant_zone_results (created_at);
"""

JobHandler = Callable[[str, str, dict, float], Awaitable[None]]


def queue_name(zone: str) -> str:
    return f"zone.{zone}"


def conninfo(database_url: str) -> str:
    """The configured SQLAlchemy URL as a libpq conninfo for psycopg (procrastinate's driver)."""
    u = normalize_url(database_url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def new_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


async def _zone_job(context: JobContext, key: str, kind: str, payload: dict, deadline: float) -> None:
    handler: JobHandler = context.additional_context["handler"]
    await handler(key, kind, payload, deadline)


def make_app(database_url: str, *, application_name: str = "whycant") -> procrastinate.App:
    """A procrastinate app on the configured PostgreSQL (not opened yet)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        kwargs={"application_name": application_name, "connect_timeout": 5},
        min_size=1,
        max_size=10,
        reconnect_timeout=5,
    )
    app = procrastinate.App(connector=connector)
    app.task(name=TASK_NAME, pass_context=True, retry=procrastinate.RetryStrategy(max_attempts=3, wait=1))(_zone_job)
    return app


async def apply_schema(app: procrastinate.App) -> list[str]:
    """procrastinate's schema (once: it has no IF NOT EXISTS) and whycant's zone tables. Returns what was applied."""
    done = []
    row = await app.connector.execute_query_one_async("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    if not row["present"]:
        await app.schema_manager.apply_schema_async()
        done.append("procrastinate schema")
    await app.connector.execute_query_async(ZONE_SCHEMA)
    done.append("zone tables")
    return done


async def schema_missing(app: procrastinate.App) -> list[str]:
    """The zone-queue tables absent from the database (empty when `whycant db upgrade` applied them)."""
    row = await app.connector.execute_query_one_async(
        "SELECT to_regclass('procrastinate_jobs') IS NULL AS jobs, to_regclass('whycant_zone_runners') IS NULL AS "
        "runners, to_regclass('whycant_zone_results') IS NULL AS results"
    )
    names = {"jobs": "procrastinate_jobs", "runners": "whycant_zone_runners", "results": "whycant_zone_results"}
    return [names[k] for k in ("jobs", "runners", "results") if row[k]]


async def defer(
    app: procrastinate.App, zone: str, kind: str, payload: dict, deadline: float, key: str | None = None
) -> str:
    key = key or new_key(kind)
    await app.configure_task(TASK_NAME, queue=queue_name(zone)).defer_async(
        key=key, kind=kind, payload=payload, deadline=deadline
    )
    return key


async def put_result(app: procrastinate.App, key: str, zone: str, runner: str, status: str, payload: Any) -> bool:
    """Store a job's answer once; a retried job's second answer is dropped. True when stored."""
    row = await app.connector.execute_query_one_async(
        "WITH ins AS (INSERT INTO whycant_zone_results (key, zone, runner, status, payload) "
        "VALUES (%(key)s, %(zone)s, %(runner)s, %(status)s, %(payload)s::jsonb) "
        "ON CONFLICT (key) DO NOTHING RETURNING 1) SELECT count(*) AS n FROM ins",
        key=key,
        zone=zone,
        runner=runner,
        status=status,
        payload=json.dumps(payload, default=str),
    )
    return bool(row["n"])


async def get_results(app: procrastinate.App, keys: list[str]) -> dict[str, dict]:
    rows = await app.connector.execute_query_all_async(
        "SELECT key, runner, status, payload FROM whycant_zone_results WHERE key = ANY(%(keys)s)", keys=keys
    )
    return {r["key"]: {"runner": r["runner"], "status": r["status"], "payload": r["payload"]} for r in rows}


async def live_runners(app: procrastinate.App, stale_seconds: float) -> dict[str, list[dict]]:
    """zone -> runners seen in the last *stale_seconds*."""
    rows = await app.connector.execute_query_all_async(
        "SELECT name, zone, host, pid, last_seen, in_flight, done, "
        "extract(epoch FROM now() - last_seen) AS age FROM whycant_zone_runners "
        "WHERE last_seen > now() - make_interval(secs => %(stale)s) ORDER BY zone, name",
        stale=float(stale_seconds),
    )
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["zone"], []).append(dict(r))
    return out


async def all_runners(app: procrastinate.App) -> list[dict]:
    rows = await app.connector.execute_query_all_async(
        "SELECT name, zone, host, pid, started_at, last_seen, in_flight, done, "
        "extract(epoch FROM now() - last_seen) AS age FROM whycant_zone_runners ORDER BY zone, name"
    )
    return [dict(r) for r in rows]


async def queued_jobs(app: procrastinate.App) -> dict[str, dict[str, int]]:
    """zone -> {status: count} for jobs not finished yet (todo, doing)."""
    rows = await app.connector.execute_query_all_async(
        "SELECT queue_name, status::text AS status, count(*) AS n FROM procrastinate_jobs "
        "WHERE status IN ('todo', 'doing') AND queue_name LIKE 'zone.%%' GROUP BY queue_name, status"
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["queue_name"][len("zone.") :], {})[r["status"]] = int(r["n"])
    return out


async def heartbeat(
    app: procrastinate.App, name: str, zone: str, host: str, pid: int, in_flight: int, done: int
) -> None:
    await app.connector.execute_query_async(
        "INSERT INTO whycant_zone_runners (name, zone, host, pid, in_flight, done) "
        "VALUES (%(name)s, %(zone)s, %(host)s, %(pid)s, %(in_flight)s, %(done)s) "
        "ON CONFLICT (name) DO UPDATE SET zone = EXCLUDED.zone, host = EXCLUDED.host, pid = EXCLUDED.pid, "
        "last_seen = now(), in_flight = EXCLUDED.in_flight, done = EXCLUDED.done",
        name=name,
        zone=zone,
        host=host,
        pid=pid,
        in_flight=in_flight,
        done=done,
    )


async def prune(app: procrastinate.App, keep_seconds: float = RESULT_KEEP_SECONDS) -> None:
    """Forget answers and runner rows older than *keep_seconds* (answers are read within a job's deadline)."""
    await app.connector.execute_query_async(
        "DELETE FROM whycant_zone_results WHERE created_at < now() - make_interval(secs => %(keep)s)",
        keep=float(keep_seconds),
    )
    await app.connector.execute_query_async(
        "DELETE FROM whycant_zone_runners WHERE last_seen < now() - make_interval(secs => %(keep)s)",
        keep=float(keep_seconds),
    )


def expired(deadline: float, now: float | None = None) -> bool:
    return (now if now is not None else time.time()) > deadline
