"""Per-target limits shared by everything that touches a target: diagnoses, watches, sweeps.

One ``TargetLimiter`` per process (``Whycant.limiter``); every caller that probes gets the same
object, so the caps hold across all of them:

- **connect tests** (``connect_budget(target, port, syns)``): a token bucket per target:port of
  ``syn_per_minute`` SYNs (refilled continuously) and at most ``connect_tests`` connect phases
  running against one target:port at once. A caller that cannot get its SYNs within ``syn_wait``
  seconds is refused with ``BudgetExceeded`` (its connect tests are reported as not run, never
  silently dropped).
- **SSH channels** (``channel(host)``): at most ``channels`` commands / SFTP batches on one host at
  once, whichever transport runs them (``LimitedTransport`` wraps any ``Transport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from probes.inventory import Host
from probes.transports.base import CommandResult, Transport


class BudgetExceeded(Exception):
    """The SYN budget of a target:port is used up; ``retry_after`` seconds until it would fit."""

    def __init__(self, key: str, syns: int, per_minute: int, retry_after: float):
        self.key, self.syns, self.per_minute, self.retry_after = key, syns, per_minute, retry_after
        super().__init__(
            f"{key}: SYN budget used up (limits.syn_per_target_per_minute: {per_minute}); "
            f"{syns} SYNs would fit in {retry_after:.0f} s"
        )


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``capacity`` per ``period`` seconds."""

    capacity: float
    period: float = 60.0
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens, self.at = self.capacity, self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.capacity / self.period)
        self.at = now

    def wait_for(self, n: float) -> float:
        """Seconds until *n* tokens are available (0 = now). More than ``capacity`` waits for a full bucket."""
        self._refill()
        need = min(n, self.capacity) - self.tokens
        return 0.0 if need <= 0 else need * self.period / self.capacity

    def take(self, n: float) -> None:
        self._refill()
        self.tokens -= min(n, self.capacity)


@dataclass
class LimiterStats:
    """Observable counters (tests, metrics): SYNs granted and refusals per target:port."""

    syns: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    max_channels: dict[str, int] = field(default_factory=dict)


class TargetLimiter:
    def __init__(
        self,
        *,
        syn_per_minute: int = 600,
        connect_tests: int = 2,
        channels: int = 8,
        syn_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.syn_per_minute, self.connect_tests, self.channels = syn_per_minute, connect_tests, channels
        self.syn_wait, self.clock = syn_wait, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._tests: dict[str, asyncio.Semaphore] = {}
        self._channels: dict[str, asyncio.Semaphore] = {}
        self._in_use: dict[str, int] = {}
        self.stats = LimiterStats()

    @staticmethod
    def key(target: str, port: int | None) -> str:
        return f"{target}:{port}" if port else target

    @contextlib.asynccontextmanager
    async def connect_budget(self, target: str, port: int, syns: int) -> AsyncIterator[None]:
        """Hold a connect-test slot for target:port and take *syns* SYNs from its budget.

        Raises ``BudgetExceeded`` when the SYNs do not fit within ``syn_wait`` seconds."""
        key = self.key(target, port)
        sem = self._tests.setdefault(key, asyncio.Semaphore(self.connect_tests))
        async with sem:
            bucket = self._buckets.setdefault(key, TokenBucket(self.syn_per_minute, clock=self.clock))
            wait = bucket.wait_for(syns)
            if wait > self.syn_wait:
                self.stats.refused[key] = self.stats.refused.get(key, 0) + 1
                raise BudgetExceeded(key, syns, self.syn_per_minute, wait)
            if wait > 0:
                await asyncio.sleep(wait)
            bucket.take(syns)
            self.stats.syns[key] = self.stats.syns.get(key, 0) + syns
            yield

    @contextlib.asynccontextmanager
    async def channel(self, host: str) -> AsyncIterator[None]:
        """One SSH channel (a command or an SFTP batch) on *host*."""
        sem = self._channels.setdefault(host, asyncio.Semaphore(self.channels))
        async with sem:
            n = self._in_use[host] = self._in_use.get(host, 0) + 1
            self.stats.max_channels[host] = max(self.stats.max_channels.get(host, 0), n)
            try:
                yield
            finally:
                self._in_use[host] -= 1


class LimitedTransport:
    """Any ``Transport`` with the limiter's per-host channel cap around every call."""

    def __init__(self, inner: Transport, limiter: TargetLimiter):
        self.inner, self.limiter = inner, limiter

    async def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        max_output: int | None = None,
    ) -> CommandResult:
        async with self.limiter.channel(host.name):
            return await self.inner.run(host, argv, timeout=timeout, stdin=stdin, max_output=max_output)

    async def read_files(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, str | None]:
        async with self.limiter.channel(host.name):
            return await self.inner.read_files(host, paths, timeout=timeout)

    async def list_dir(self, host: Host, paths: Sequence[str], *, timeout: float) -> dict[str, list[str] | None]:
        async with self.limiter.channel(host.name):
            return await self.inner.list_dir(host, paths, timeout=timeout)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> object:  # pool statistics, pooled_connection…: the real transport
        return getattr(self.inner, name)
