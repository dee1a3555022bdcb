"""Connect tests from one vantage to many targets in one remote process.

Under load (many diagnoses at once) every remote connect test cost a login shell and a python3
start on the vantage: ~0.3-0.4 s of CPU each, and twenty at once queued behind the SSH transport's
per-host channel limit. ``ConnectBatcher`` runs the connect tests asked of one vantage (same
attempts/timeout/interval) like a group commit: a test goes at once when no batch started in the
last ``window`` seconds; otherwise it waits for the next batch, at most ``window`` seconds after the
last one started. A batch is one ``python3 -`` process
(``MULTI_PY_SCRIPT``): each target gets the same attempts and spacing it would get alone, run
concurrently. Each caller gets a ``CommandResult`` holding only its own target's lines, so the
caller parses it exactly like a single test. Only validated IP addresses and integers reach the
command line (``connect.validate_target``); text from chat never does.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from probes.connect import ATTEMPT_PY, validate_target
from probes.inventory import Host
from probes.transports.base import CommandResult, Transport

# The system interpreter first: on hosts with a version manager (pyenv) in the login shell, `python3`
# is a shell-script shim costing ~0.1 s of CPU per start; /usr/bin/python3 skips it. Exit 127 -> next.
INTERPRETERS = ("/usr/bin/python3", "python3")

# Executed as `INTERPRETER - N TIMEOUT INTERVAL ADDR1 PORT1 [ADDR2 PORT2 ...]` with this text on stdin:
# connect.ATTEMPT_PY's attempts, each JSON line naming its target's index.
MULTI_PY_SCRIPT = (
    ATTEMPT_PY
    + r"""
n, tmo, gap = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
targets = [(sys.argv[i], int(sys.argv[i + 1])) for i in range(4, len(sys.argv) - 1, 2)]
async def one(k, addr, port, i):
    return dict(target=k, **(await attempt(addr, port, i, gap, tmo)))
async def main():
    jobs = [one(k, a, p, i) for k, (a, p) in enumerate(targets) for i in range(n)]
    for r in await asyncio.gather(*jobs):
        print(json.dumps(r))
asyncio.new_event_loop().run_until_complete(main())  # 3.6+ (asyncio.run is 3.7+)
"""
)


@dataclass
class _Batch:
    targets: list[tuple[str, int]] = field(default_factory=list)
    waiters: list[asyncio.Future[CommandResult]] = field(default_factory=list)
    started: bool = False
    task: asyncio.Task[None] | None = None  # the task running the remote process, once started


class ConnectBatcher:
    """Batches the python3 connect tests asked of each vantage within ``window`` seconds."""

    def __init__(self, window: float = 0.25, max_targets: int = 64):
        self.window, self.max_targets = window, max_targets
        self._open: dict[tuple, _Batch] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._interpreter: dict[str, int] = {}  # vantage -> index in INTERPRETERS that ran
        self._last_start: dict[tuple, float] = {}  # batch key -> loop time its last batch started
        self.batches = 0  # remote processes started (tests, benchmark)

    async def run(
        self,
        transport: Transport,
        host: Host,
        address: str,
        port: int,
        *,
        attempts: int,
        timeout: float,
        interval: float,
        budget: float,
    ) -> CommandResult:
        """One target's part of a batched connect test from *host* (exit 127: no python3 there)."""
        target = validate_target(address, port)
        key = (host.name, host.address, host.port, int(attempts), float(timeout), float(interval), float(budget))
        batch = self._open.get(key)
        if batch is None or batch.started or len(batch.targets) >= self.max_targets:
            batch = self._open[key] = _Batch()
            # group commit: a test with no batch started in the last `window` s goes at once (with whatever
            # arrives in the same loop iteration); under load the next batch starts `window` after the last
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_start.get(key, float("-inf")) + self.window - loop.time())
            self._last_start[key] = loop.time() + delay
            loop.call_later(
                delay, self._spawn, self._start(key, batch, transport, host, attempts, timeout, interval, budget)
            )
        fut: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        batch.targets.append(target)
        batch.waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            # the last caller of a running batch left (signal, shutdown, timeout): stop the batch, and wait
            # while the transport kills the remote process, so nothing outlives the diagnosis on the vantage
            task = batch.task
            if task is not None and not task.done() and all(f.done() for f in batch.waiters):
                task.cancel()
                await asyncio.wait({task})
            raise

    async def _run(self, transport: Transport, host: Host, args: list[str], budget: float) -> CommandResult:
        """Run the script with the first interpreter the vantage has (remembered per vantage)."""
        first = self._interpreter.get(host.name, 0)
        out: CommandResult | None = None
        for i in range(first, len(INTERPRETERS)):
            out = await transport.run(host, [INTERPRETERS[i], "-", *args], timeout=budget, stdin=MULTI_PY_SCRIPT)
            if out.exit_status != 127:
                self._interpreter[host.name] = i
                break
        assert out is not None
        return out

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(
        self,
        key: tuple,
        batch: _Batch,
        transport: Transport,
        host: Host,
        attempts: int,
        timeout: float,
        interval: float,
        budget: float,
    ) -> None:
        batch.started = True
        batch.task = asyncio.current_task()
        if self._open.get(key) is batch:
            del self._open[key]
        live = [(t, f) for t, f in zip(batch.targets, batch.waiters) if not f.done()]
        if not live:
            return
        args = [str(int(attempts)), f"{float(timeout):g}", f"{float(interval):g}"]
        for (addr, port), _f in live:
            args += [addr, str(port)]
        self.batches += 1
        try:
            out = await self._run(transport, host, args, budget)
        except BaseException as e:  # every waiter gets the transport's error (or the cancellation)
            for _t, f in live:
                if not f.done():
                    f.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        lines: list[list[str]] = [[] for _ in live]
        for line in out.stdout.splitlines():
            try:
                k = int(json.loads(line)["target"])
            except (ValueError, KeyError, TypeError):
                continue
            if 0 <= k < len(lines):
                lines[k].append(line)
        for (_t, f), mine in zip(live, lines):
            if not f.done():
                f.set_result(
                    CommandResult(out.host, out.argv, "\n".join(mine), out.stderr, out.exit_status, out.duration_s)
                )
