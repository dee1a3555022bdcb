"""``/healthz`` (the process answers) and ``/readyz`` (database reachable, Slack connected, scheduler running).

Each readiness check gives ``"ok"`` or the reason it is not; ``/readyz`` is 200 when all are
ok, else 503 with the reasons (JSON). The result also sets ``whycant_ready``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from bot import metrics

OK = "ok"


@dataclass
class Readiness:
    store: Any = None  # bot.storage Store (has .db.ping()) or None
    slack: Callable[[], str | None] | None = None  # None = connected, else why not
    scheduler: asyncio.Task | None = None
    timeout: float = 2.0
    checks: dict[str, str] = field(default_factory=dict)  # the last result

    async def database(self) -> str:
        if self.store is None:
            return "ok (no database configured)"
        try:
            await asyncio.wait_for(self.store.db.ping(), self.timeout)
        except asyncio.TimeoutError:
            return f"database unreachable: no answer within {self.timeout:g}s"
        except Exception as e:  # noqa: BLE001 - any failure is the reason
            return f"database unreachable: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        return OK

    def slack_status(self) -> str:
        if self.slack is None:
            return "ok (HTTP mode: Slack connects to us)"
        why = self.slack()
        return OK if why is None else why

    def scheduler_status(self) -> str:
        t = self.scheduler
        if t is None:
            return "ok (no reports configured)"
        if t.done():
            err = None if t.cancelled() else t.exception()
            return f"scheduler stopped{f': {type(err).__name__}: {err}' if err else ''}"
        return OK

    async def check(self) -> tuple[bool, dict[str, str]]:
        self.checks = {
            "database": await self.database(),
            "slack": self.slack_status(),
            "scheduler": self.scheduler_status(),
        }
        ready = all(v.startswith(OK) for v in self.checks.values())
        metrics.READY.set(1 if ready else 0)
        return ready, self.checks
