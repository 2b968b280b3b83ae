"""A client-side rate limiter per provider: a token bucket with an injected clock.

Providers answer a burst beyond their limit with 429s; waiting on our side first is cheaper
than being told to wait. The runtime keeps one bucket per endpoint and rate, shared by
every client of that endpoint in the process, so several orchestrators in one kernel do not
add up past the limit.

Written here rather than taken from a library: aiolimiter 1.3.0 is asyncio-only (runs here
also wait in threads), and pyrate-limiter 4.5.1 sleeps with ``time.sleep`` /
``asyncio.sleep`` inside ``try_acquire`` and returns only a boolean, so a wait can neither
run on an injected clock nor be measured for the audit trail
(``neonhub_rate_limit_hits_total``).

>>> limiter = RateLimiter(per_minute=60, burst=1, clock=FakeClock())   # doctest: +SKIP
>>> limiter.acquire(), limiter.acquire()                                # doctest: +SKIP
(0.0, 1.0)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from ..clock import Clock, SystemClock

__all__ = ["RateLimiter"]

AsyncSleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """``per_minute`` calls a minute on average, bursts of up to ``burst`` calls.

    A caller reserves its slot under the lock and sleeps outside it, so waiting callers
    queue in arrival order and never hold each other up longer than their own slot.
    ``waits`` counts the calls that had to wait (``neonhub_rate_limit_hits_total``).
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int | None = None,
        clock: Clock | None = None,
        async_sleep: AsyncSleep | None = None,
        name: str = "",
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive (got {per_minute})")
        self.name = name
        self.per_minute = per_minute
        self.burst = burst if burst is not None else max(1, int(per_minute // 60))
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1 (got {burst})")
        self.clock: Clock = clock or SystemClock()
        self._async_sleep = async_sleep or asyncio.sleep
        self._rate = per_minute / 60.0
        self._tokens = float(self.burst)
        self._last = self.clock.monotonic()
        self._lock = threading.Lock()
        self.waits = 0
        self.waited_s = 0.0

    def reserve(self) -> float:
        """Take a slot now; return how long the caller must wait before using it."""
        with self._lock:
            now = self.clock.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            wait = -self._tokens / self._rate
            self.waits += 1
            self.waited_s += wait
            return wait

    def acquire(self) -> float:
        """Block until a call may go out; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self.clock.sleep(wait)
        return wait

    async def aacquire(self) -> float:
        """Like :meth:`acquire`, without blocking the event loop."""
        wait = self.reserve()
        if wait > 0:
            await self._async_sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"RateLimiter({self.name!r}, per_minute={self.per_minute}, burst={self.burst})"
