"""A hard cap on SYNs per minute at each target, whatever the number of watches and askers.

One ``SynBudget`` per process (``SYN_BUDGET``): every watch's connect attempt (one SYN per
vantage) and every full collection (attempts × vantages) takes tokens from a sliding
60-second window keyed by target address. Asking for more than is left returns what is
left; a watch skips the attempts it was not granted and counts them as ``capped``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

WINDOW_S = 60.0


class SynBudget:
    """Sliding-window SYN counter per target (not thread-safe; one event loop)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}

    def _window(self, target: str) -> deque[float]:
        q = self._sent.setdefault(target, deque())
        cutoff = self.clock() - WINDOW_S
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def left(self, target: str) -> int:
        return self.per_minute - len(self._window(target))

    def take(self, target: str, n: int) -> int:
        """Grant up to *n* SYNs towards *target* now; returns how many were granted."""
        q = self._window(target)
        granted = max(0, min(n, self.per_minute - len(q)))
        now = self.clock()
        q.extend([now] * granted)
        return granted
