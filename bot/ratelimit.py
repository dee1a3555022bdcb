"""Per-user and per-channel rate limits on asks from chat (config ``limits``).

A sliding window of 60 s: a user may start ``asks_per_user_per_minute`` diagnoses a minute and a
channel ``asks_per_channel_per_minute`` (0 turns a limit off). Only asks that go ahead count. A
refused ask gets a friendly reply saying when to ask again; nothing else happens for it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

WINDOW_S = 60.0


@dataclass(frozen=True)
class Refusal:
    scope: Literal["user", "channel"]
    retry_after_s: int
    text: str


class AskLimiter:
    def __init__(self, per_user: int, per_channel: int, *, clock: Callable[[], float] = time.monotonic):
        self.per_user, self.per_channel, self.clock = per_user, per_channel, clock
        self._seen: dict[str, deque[float]] = {}
        self.refused = 0

    def _wait(self, key: str, limit: int, now: float) -> float:
        """Seconds until *key* may ask again (0 = now)."""
        q = self._seen.get(key)
        if not limit or q is None:
            return 0.0
        while q and q[0] <= now - WINDOW_S:
            q.popleft()
        if not q:
            del self._seen[key]
            return 0.0
        return 0.0 if len(q) < limit else q[0] + WINDOW_S - now

    def check(self, user: str, channel: str | None) -> Refusal | None:
        """None when the ask may go ahead (and it is counted), else the refusal with its friendly reply."""
        now = self.clock()
        ukey, ckey = f"user:{user}", f"channel:{channel}"
        wait_user = self._wait(ukey, self.per_user, now)
        wait_channel = self._wait(ckey, self.per_channel, now) if channel else 0.0
        if wait_user <= 0 and wait_channel <= 0:
            if self.per_user:
                self._seen.setdefault(ukey, deque()).append(now)
            if channel and self.per_channel:
                self._seen.setdefault(ckey, deque()).append(now)
            return None
        self.refused += 1
        secs = max(1, math.ceil(max(wait_user, wait_channel)))
        if wait_user > 0:
            return Refusal(
                "user",
                secs,
                f"Easy there: you have asked {self.per_user} questions in the last minute, "
                "my limit per person (`limits.asks_per_user_per_minute`). Your earlier answers are on "
                f"their way; ask again in {secs} s.",
            )
        return Refusal(
            "channel",
            secs,
            f"This channel has asked {self.per_channel} questions in the last minute, "
            "my limit per channel (`limits.asks_per_channel_per_minute`). Ask again in "
            f"{secs} s, or look at the answers already in this channel.",
        )
