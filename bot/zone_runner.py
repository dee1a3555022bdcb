"""``whycant runner --zone Z``: a long-running worker inside zone Z.

It dials out to the shared PostgreSQL, takes the jobs of its zone's procrastinate queue, probes with its
own config (SSH keys, inventory) and stores each answer as JSON. A job names hosts by inventory name
only; a host that is not in the runner's inventory is refused. Jobs taken after their deadline are
dropped. Every few seconds the runner sends a heartbeat and re-queues its zone's jobs whose worker
stopped sending procrastinate heartbeats (a runner killed mid-job). When the database goes away the
runner logs it and reconnects with a bounded back-off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
from typing import Any

import procrastinate

from bot.config import Config
from bot.drift.report import fleet_collector
from bot.drift.zone_sweep import result_to_json
from bot.inventory import Inventory
from bot.service import build_transports, probe_settings
from bot.watch.light import light_settings, sample_counters
from bot.zones import queue
from probes.collect import Collector, VantagePoint
from probes.errors import BadInput
from probes.evidence import Request

log = logging.getLogger("whycant.runner")

HEARTBEAT_INTERVAL = 2.0  # seconds; whycant's heartbeat (runners list) and the stalled-job check
PROCRASTINATE_HEARTBEAT = 2.0  # procrastinate's own worker heartbeat
STALLED_AFTER = 8.0  # a worker silent this long is dead: its jobs go back to the queue
RECONNECT_MAX = 10.0
PRUNE_INTERVAL = 600.0  # seconds between deletions of old answers and runner rows
WATCH_ANSWER_MARGIN = 0.3  # seconds a watch round's attempt leaves before the deadline to store its answer


class JobRefused(Exception):
    """A job the runner will not run (host outside its inventory, bad payload)."""


class JobLate(Exception):
    """A job that could not finish before its deadline (its answer would be dropped anyway)."""


_ADDRESS_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}\Z")  # the inventory's own address character set


def check_destination(address: Any, port: Any) -> tuple[str, int]:
    """A connect job's destination: an address made of inventory characters and a TCP port, else refused."""
    if not isinstance(address, str) or not _ADDRESS_RE.match(address):
        raise JobRefused(f"destination address {address!r} is not a host address")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise JobRefused(f"destination port {port!r} is not in 1..65535")
    return address, port


class ZoneRunner:
    """Runs zone jobs with this runner's own inventory and SSH settings."""

    def __init__(self, config: Config, zone: str, name: str | None = None):
        self.config, self.zone = config, zone
        self.name = name or f"{zone}@{socket.gethostname()}:{os.getpid()}"
        self.inventory = Inventory.from_config(config)
        self.transports = build_transports(config)
        self.collector = Collector(self.transports, probe_settings(config))
        self.in_flight = 0
        self.done = 0
        self.app: procrastinate.App | None = None

    # -- jobs ----------------------------------------------------------------------------------
    def host(self, name: Any) -> Any:
        """An inventory host by exact name; anything else is refused."""
        h = self.inventory.get(name) if isinstance(name, str) else None
        if h is None:
            raise JobRefused(f"{name!r} is not in runner {self.name}'s inventory")
        return h

    def vantage(self, name: Any) -> VantagePoint:
        if not isinstance(name, str):
            raise JobRefused(f"vantage {name!r} is not a name")
        v = self.inventory.vantages().get(name)
        if v is None:
            h = self.host(name)
            return VantagePoint(name, h, nat=False, note=h.note)
        return VantagePoint(v.name, v.host, nat=bool(v.nat), note=v.note)

    async def watch_round(self, payload: dict, deadline: float | None) -> dict:
        """A watch round's part in this zone: one attempt per vantage (its timeout bounded by the deadline) and
        the target's counter sample when asked for. Raises JobLate when it cannot finish by the deadline."""
        address, port = check_destination(payload.get("address"), payload.get("port"))
        vps = [self.vantage(n) for n in payload.get("vantages", [])]
        target = self.host(payload["counters"]) if payload.get("counters") is not None else None
        asked = float(payload.get("timeout", 1.0))
        left = deadline - time.time() if deadline is not None else asked + WATCH_ANSWER_MARGIN
        timeout = min(asked, left - WATCH_ANSWER_MARGIN)
        if timeout < 0.05:
            raise JobLate(f"{left:.2f} s left before its deadline")
        light = Collector(self.transports, light_settings(self.collector.s, timeout))

        async def counters() -> dict[str, int] | None:
            return await sample_counters(self.transports, target, self.collector.s) if target is not None else None

        try:
            results, sample = await asyncio.wait_for(
                asyncio.gather(asyncio.gather(*(light.connect_from(v, address, port) for v in vps)), counters()),
                timeout=left,
            )
        except TimeoutError as e:
            raise JobLate(f"not done within {left:.2f} s") from e
        return {"connect": [r.model_dump(mode="json") for r in results], "counters": sample}

    async def run(self, kind: str, payload: dict, deadline: float | None = None) -> Any:
        """One job's answer as JSON-able data. Raises JobRefused (and JobLate for a watch round)."""
        if kind == "collect":
            request = Request.model_validate(payload["request"])
            target = self.host(payload["target"])
            request = request.model_copy(update={"address": target.address})
            vps = [self.vantage(n) for n in payload.get("vantages", [])]
            ev = await self.collector.collect(
                request,
                target,
                vps,
                extra_sysctls=list(payload.get("extra_sysctls", [])),
                self_vantage=bool(payload.get("self_vantage", True)),
            )
            return ev.model_dump(mode="json")
        if kind == "connect":
            address, port = check_destination(payload.get("address"), payload.get("port"))
            vps = [self.vantage(n) for n in payload.get("vantages", [])]
            results = await asyncio.gather(*(self.collector.connect_from(v, address, port) for v in vps))
            return [r.model_dump(mode="json") for r in results]
        if kind == "watch":
            return await self.watch_round(payload, deadline)
        if kind == "snapshot":
            hosts = [self.host(n) for n in payload.get("hosts", [])]
            keys = payload.get("extra_sysctls", {})
            snaps = await asyncio.gather(
                *(self.collector.snapshot(h, counters=False, extra_sysctls=list(keys.get(h.name, []))) for h in hosts)
            )
            return [s.model_dump(mode="json") for s in snaps]
        if kind == "drift":
            hosts = [self.host(n) for n in payload.get("hosts", [])]
            keys = payload.get("keys", {})
            fleet = await fleet_collector(self).collect(hosts, lambda h: list(keys.get(h.name, [])))
            return [result_to_json(r) for r in fleet]
        raise JobRefused(f"unknown job kind {kind!r}")

    async def handle(self, key: str, kind: str, payload: dict, deadline: float) -> None:
        """The procrastinate task body: drop late jobs, run, store the answer once."""
        assert self.app is not None
        if queue.expired(deadline):
            log.warning("job %s (%s) dropped: its deadline passed %.1f s ago", key, kind, time.time() - deadline)
            await queue.put_result(
                self.app,
                key,
                self.zone,
                self.name,
                "expired",
                {"error": f"taken {time.time() - deadline:.1f} s after its deadline: dropped"},
            )
            return
        self.in_flight += 1
        what = payload.get("hosts") or [payload.get("target") or payload.get("counters")] + payload.get("vantages", [])
        log.info("job %s (%s) started: %s", key, kind, " ".join(str(w) for w in what if w is not None))
        try:
            try:
                answer, status = await self.run(kind, payload, deadline), "ok"
            except JobLate as e:
                log.warning("job %s (%s) dropped: %s", key, kind, e)
                answer, status = {"error": f"dropped: {e}"}, "expired"
            except (JobRefused, KeyError, ValueError, TypeError) as e:
                answer, status = {"error": f"runner {self.name} refused the job: {e}"}, "refused"
            stored = await queue.put_result(self.app, key, self.zone, self.name, status, answer)
            log.info("job %s (%s) %s%s", key, kind, status, "" if stored else " (an earlier attempt answered first)")
        finally:
            self.in_flight -= 1
            self.done += 1

    # -- lifecycle -----------------------------------------------------------------------------
    async def _beat(self, app: procrastinate.App) -> None:
        last_prune = 0.0
        while True:
            if time.monotonic() - last_prune > PRUNE_INTERVAL:
                await queue.prune(app)
                last_prune = time.monotonic()
            await queue.heartbeat(
                app, self.name, self.zone, socket.gethostname(), os.getpid(), self.in_flight, self.done
            )
            for job in await app.job_manager.get_stalled_jobs(
                queue=queue.queue_name(self.zone), seconds_since_heartbeat=STALLED_AFTER
            ):
                log.warning("job %s was taken by a runner that stopped: queued again", job.id)
                await app.job_manager.retry_job(job)
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    async def serve_once(self) -> None:
        """Connect, then run the worker and the heartbeat until either stops (or the connection drops)."""
        app = queue.make_app(self.config.database, application_name=f"whycant-runner {self.name}"[:63])
        async with app.open_async():
            self.app = app
            await queue.heartbeat(app, self.name, self.zone, socket.gethostname(), os.getpid(), 0, self.done)
            log.info("runner %s takes jobs of zone %s", self.name, self.zone)
            beat = asyncio.create_task(self._beat(app))
            worker = asyncio.create_task(
                app.run_worker_async(
                    queues=[queue.queue_name(self.zone)],
                    name=self.name,
                    concurrency=self.config.zones.runner_concurrency,
                    additional_context={"handler": self.handle},
                    install_signal_handlers=False,
                    update_heartbeat_interval=PROCRASTINATE_HEARTBEAT,
                    stalled_worker_timeout=STALLED_AFTER,
                    delete_jobs="successful",
                    fetch_job_polling_interval=1.0,
                )
            )
            try:
                done, _ = await asyncio.wait({beat, worker}, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    t.result()
            finally:
                for t in (beat, worker):
                    t.cancel()
                await asyncio.gather(beat, worker, return_exceptions=True)

    async def check_schema(self) -> None:
        """Refuse to start on a database without the zone tables (raises BadInput)."""
        app = queue.make_app(self.config.database, application_name=f"whycant-runner {self.name}"[:63])
        async with app.open_async():
            missing = await queue.schema_missing(app)
        if missing:
            raise BadInput(
                f"the database has no zone queue ({', '.join(missing)} missing): run `whycant db upgrade` "
                "with the bot's config (the one that names the zones)"
            )

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until *stop* is set; reconnect after a lost database with a bounded back-off."""
        delay = 1.0
        try:
            while not stop.is_set():
                run = asyncio.create_task(self.serve_once())
                waiter = asyncio.create_task(stop.wait())
                await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if stop.is_set():
                    run.cancel()
                    await asyncio.gather(run, return_exceptions=True)
                    break
                try:
                    run.result()
                    delay = 1.0
                except Exception as e:  # noqa: BLE001 - the database went away: reconnect
                    log.warning(
                        "runner %s lost the database (%s: %s); reconnecting in %.0f s",
                        self.name,
                        type(e).__name__,
                        str(e).splitlines()[0] if str(e) else "",
                        delay,
                    )
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    except TimeoutError:
                        pass
                    delay = min(delay * 2, RECONNECT_MAX)
        finally:
            await self.transports.close()
