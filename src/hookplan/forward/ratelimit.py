"""Per-hook rate limit (``rate_limit_per_second``): a token bucket that delays callers, never drops.

The bucket holds at most one second's worth of tokens, so a quiet hook may take a short burst, and a
busy one settles at exactly its rate. Waiters are served in order because each reserves its slot
before sleeping.
"""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    def __init__(self, rate: float):
        self.rate = max(float(rate), 0.001)
        self._tokens = self.rate
        self._stamp = time.monotonic()

    def reserve(self) -> float:
        """Take a token now; returns how long to wait before using it (0 when one was there)."""
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def set_rate(self, rate: float) -> None:
        self.rate = max(float(rate), 0.001)
