"""One run per key: concurrent callers with the same key share the run already in flight.

``SingleFlight.run(key, work, on_progress=…, who=…, meta=…)`` starts ``work(flight)`` as a task when
no run for *key* is in flight (the caller is its *leader*); otherwise the caller joins the running
one and gets the same result (or the same exception). Progress events the work sends through
``flight.broadcast`` reach every caller's ``on_progress`` (joiners get the events after they
joined); ``flight.meta`` lists what each caller brought (the leader's first), so the work can act
for all of them at once (the service records every joiner of a diagnosis in one write).
The run is removed from the table when it ends, so a later ask starts a fresh one. A caller that
is cancelled leaves the run to the others; when the last caller leaves, the run is cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger("whycant.singleflight")

V = TypeVar("V")
Progress = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass
class Flight(Generic[V]):
    key: Hashable
    started: float = field(default_factory=time.monotonic)
    askers: list[str] = field(default_factory=list)  # who joined, in order (the leader first)
    meta: list[Any] = field(default_factory=list)  # what each caller brought, same order
    subscribers: list[Progress] = field(default_factory=list)
    callers: int = 0
    task: asyncio.Future[V] | None = None

    async def broadcast(self, stage: str, message: str, kw: dict[str, Any]) -> None:
        for fn in list(self.subscribers):
            try:
                await fn(stage, message, kw)
            except Exception:
                log.warning("progress callback failed", exc_info=True)


class SingleFlight(Generic[V]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, Flight[V]] = {}
        self.started = 0  # runs started (tests, metrics)
        self.joined = 0  # callers that joined a run in flight

    def running(self, key: Hashable) -> Flight[V] | None:
        return self._flights.get(key)

    def in_flight(self) -> int:
        return len(self._flights)

    async def run(
        self,
        key: Hashable,
        work: Callable[[Flight[V]], Awaitable[V]],
        *,
        on_progress: Progress | None = None,
        who: str = "",
        meta: Any = None,
    ) -> tuple[V, bool]:
        """The result of the run for *key* and whether this caller joined one already in flight."""
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = self._flights[key] = Flight(key)
            flight.askers.append(who)
            flight.meta.append(meta)
            flight.task = asyncio.ensure_future(work(flight))
            flight.task.add_done_callback(functools.partial(self._done, flight))
            self.started += 1
        else:
            self.joined += 1
            flight.askers.append(who)
            flight.meta.append(meta)
        task = flight.task
        assert task is not None
        flight.callers += 1
        if on_progress is not None:
            flight.subscribers.append(on_progress)
        try:
            return await asyncio.shield(task), joined
        except asyncio.CancelledError:
            if flight.callers == 1 and not task.done():
                # nobody else waits for it: stop it, and let its own clean-up run to the end (it marks the
                # incident interrupted, removes what it started on the target; each step is bounded)
                task.cancel()
                await asyncio.wait({task})
            raise
        finally:
            flight.callers -= 1
            if on_progress is not None and on_progress in flight.subscribers:
                flight.subscribers.remove(on_progress)

    def _done(self, flight: Flight[V], _task: object = None) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
        task = flight.task
        if task is not None and not task.cancelled() and task.exception() is not None and flight.callers == 0:
            log.warning("run %r failed with nobody waiting: %s", flight.key, task.exception())
