"""SIGTERM and SIGINT for the CLI front ends (issue 11 point 5; docs/failures.md).

``SignalGuard`` installs the handlers for a front end's run; the first SIGTERM or SIGINT cancels the work
it runs (``guard.run``): the cancellation reaches the running probes, whose transports
kill what they started on remote hosts (the same path as a command timeout), the service marks its
unfinished diagnoses ``interrupted``, and the front end's own clean-up runs (not cancellable). Then ``Interrupted`` is raised
(the CLI exits 143 for SIGTERM, 130 for SIGINT). If the clean-up is not done within *grace* seconds, or a
second signal arrives, the process exits at once with the same status, saying so on stderr.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")

DEFAULT_GRACE = 10.0
_last: list[int] = []


class Interrupted(Exception):
    """The run was stopped by a signal (after its clean-up)."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        self.interrupted: list[int] = []  # incidents marked interrupted
        super().__init__(signum)

    def __str__(self) -> str:
        marked = ", ".join(str(i) for i in self.interrupted)
        return f"stopped by {signal.Signals(self.signum).name}: remote commands killed" + (
            f", incident {marked} marked interrupted" if marked else ""
        )


def received_signal() -> str | None:
    """The name of the signal that is stopping this process (``"SIGTERM"``), or None."""
    return signal.Signals(_last[-1]).name if _last else None


def _hard_exit(signum: int, why: str) -> None:
    sys.stderr.write(f"whycant: {why}; exiting now\n")
    sys.stderr.flush()
    os._exit(128 + signum)


class SignalGuard:
    """``async with SignalGuard(grace) as guard:`` SIGTERM/SIGINT handlers for the block. Work run with
    ``await guard.run(coro)`` is cancelled by the first signal and raises ``Interrupted``; clean-up outside
    ``guard.run`` (closing the service, the transports' remote kills) is never cancelled, only bounded by
    *grace* (then, or at a second signal, the process exits at once)."""

    def __init__(self, grace: float = DEFAULT_GRACE):
        self.grace = grace
        self.signum: int | None = None
        self._current: asyncio.Future[Any] | None = None
        self._signals = (signal.SIGTERM, signal.SIGINT)

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        if self.signum is not None and (et is None or issubclass(et, asyncio.CancelledError)):
            raise Interrupted(self.signum)

    def _on_signal(self, signum: int) -> None:
        if self.signum is not None:
            _hard_exit(signum, f"second signal ({signal.Signals(signum).name}) while stopping")
        self.signum = signum
        _last.append(signum)
        if self._current is not None:
            self._current.cancel()
        asyncio.get_running_loop().call_later(
            self.grace, _hard_exit, signum, f"clean-up not finished within {self.grace:g} s"
        )

    async def run(self, work: Awaitable[T]) -> T:
        """Await *work*; a signal (before or during it) cancels it and raises ``Interrupted``."""
        if self.signum is not None:
            if asyncio.iscoroutine(work):
                work.close()
            raise Interrupted(self.signum)
        task = asyncio.ensure_future(work)
        self._current = task
        try:
            return await task
        except asyncio.CancelledError:
            if self.signum is not None:
                raise Interrupted(self.signum) from None
            raise
        finally:
            self._current = None
