"""The token bucket on a fake clock: bursts, steady rate, waits counted, shared per provider."""

from __future__ import annotations

import asyncio
import threading

import pytest

from neonhub_nb.clock import FakeClock
from neonhub_nb.llm.ratelimit import RateLimiter
from neonhub_nb.runtime import Runtime


def test_a_burst_goes_through_then_callers_wait_their_turn() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, burst=2, clock=clock)  # 2 per second
    assert [limiter.acquire() for _ in range(4)] == [0.0, 0.0, 0.5, 0.5]
    assert (limiter.waits, limiter.waited_s) == (2, 1.0)
    assert clock.monotonic() == 1.0


def test_reserved_slots_queue_in_order_without_sleeping_under_the_lock() -> None:
    limiter = RateLimiter(60, burst=1, clock=FakeClock())
    # Three callers arrive at once: each reserves the next free second.
    assert [limiter.reserve() for _ in range(3)] == [0.0, 1.0, 2.0]


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire()
    clock.advance(3600)
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_default_burst_is_one_second_of_traffic() -> None:
    assert RateLimiter(600).burst == 10
    assert RateLimiter(30).burst == 1


def test_async_acquire_waits_without_blocking_the_loop() -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(60, burst=1, clock=clock, async_sleep=fake_sleep)

    async def main() -> list[float]:
        return list(await asyncio.gather(*(limiter.aacquire() for _ in range(3))))

    assert asyncio.run(main()) == [0.0, 1.0, 2.0]
    assert slept == [1.0, 2.0]
    assert limiter.waits == 2


def test_threads_share_one_bucket() -> None:
    limiter = RateLimiter(60, burst=1, clock=FakeClock())
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = limiter.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [float(i) for i in range(20)]


def test_the_runtime_keeps_one_limiter_per_provider_and_none_without_a_limit() -> None:
    runtime = Runtime()
    a = runtime.limiter("http://127.0.0.1:1/v1", 60)
    assert a is not None and runtime.limiter("http://127.0.0.1:1/v1", 60) is a
    assert runtime.limiter("http://127.0.0.1:2/v1", 60) is not a
    assert runtime.limiter("http://127.0.0.1:1/v1", None) is None
    runtime.reset()
    assert runtime.limiter("http://127.0.0.1:1/v1", 60) is not a


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(60, burst=0)
