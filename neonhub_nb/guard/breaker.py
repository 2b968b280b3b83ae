"""A circuit breaker per agent: closed, open, half-open; time comes from an injected clock.

After ``failure_threshold`` failures in a row the breaker opens and every run of the agent
fails fast (no model call, no bill) until ``reset_timeout_s`` has passed. Then it
half-opens: one trial run goes through; success closes it, failure opens it again.

Every change of state is a :class:`Transition`: kept in ``transitions``, handed to
``on_transition`` listeners, and returned to the caller so the orchestrator can record it
in the audit store (tool ``circuit_breaker``, operation ``transition``).

Written here rather than taken from a library: pybreaker 1.4.1 and purgatory 3.0.1 read
the wall clock directly (``datetime.now(UTC)``, ``time.time()``), so breakers cannot run
on an injected clock, and both let every call through while half-open, where this one
admits a single trial so a recovering provider is not hit by every waiting run at once.

>>> breaker = CircuitBreaker("content", failure_threshold=2, clock=FakeClock())  # doctest: +SKIP
>>> breaker.record_failure(); breaker.record_failure()                          # doctest: +SKIP
Transition(agent='content', from_state='closed', to_state='open', ...)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ..clock import Clock, SystemClock
from ..errors import CircuitOpenError

__all__ = [
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "Transition",
    "TransitionListener",
]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Transition:
    agent: str
    from_state: BreakerState
    to_state: BreakerState
    at: datetime
    failures: int
    reason: str = ""

    def as_request(self) -> dict[str, Any]:
        """The request recorded for this transition (the dashboard lists these keys)."""
        return {
            "agent": self.agent,
            "from": self.from_state,
            "to": self.to_state,
            "failures": self.failures,
            "reason": self.reason,
        }


TransitionListener = Callable[[Transition], None]

# Long errors (a model's whole answer, a stack of causes) would drown the fast-fail message.
_REASON_CHARS = 200


class CircuitBreaker:
    """The breaker of one agent. Thread-safe: runs in several threads share it."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Clock | None = None,
        listeners: list[TransitionListener] | None = None,
        history: int = 100,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1 (got {failure_threshold})")
        if reset_timeout_s <= 0:
            raise ValueError(f"reset_timeout_s must be positive (got {reset_timeout_s})")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.clock: Clock = clock or SystemClock()
        self.listeners: list[TransitionListener] = listeners if listeners is not None else []
        self.transitions: deque[Transition] = deque(maxlen=history)
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._open_until: datetime | None = None
        self._trial_started: float | None = None
        self._last_error = ""
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def failures(self) -> int:
        """Failures in a row since the breaker last closed."""
        return self._failures

    @property
    def open_until(self) -> datetime | None:
        """When an open breaker lets a trial through (wall clock, naive UTC)."""
        return self._open_until if self._state == "open" else None

    def allow(self) -> Transition | None:
        """Let a run through, or raise :class:`CircuitOpenError`.

        Returns the open -> half-open transition when this call is the trial run.
        """
        with self._lock:
            now = self.clock.monotonic()
            if self._state == "closed":
                return None
            if self._state == "open":
                if now - self._opened_at < self.reset_timeout_s:
                    raise CircuitOpenError(self._open_message())
                self._trial_started = now
                return self._move("half_open", "reset timeout passed: one trial run")
            # Half-open: one trial at a time. A trial whose outcome never came back (its
            # thread died) must not jam the breaker, so it expires after the reset timeout.
            if self._trial_started is not None and now - self._trial_started < self.reset_timeout_s:
                raise CircuitOpenError(
                    f"circuit half-open for agent {self.name}: a trial run is in progress; "
                    "other runs fail fast until it succeeds"
                )
            self._trial_started = now
            return None

    def record_success(self) -> Transition | None:
        with self._lock:
            self._failures = 0
            self._trial_started = None
            if self._state == "closed":
                return None
            return self._move("closed", "trial run succeeded")

    def record_failure(self, error: str = "") -> Transition | None:
        """Count a failed run; returns the transition to ``open`` when this one trips it."""
        with self._lock:
            self._failures += 1
            self._last_error = error[:_REASON_CHARS]
            self._trial_started = None
            if self._state == "half_open":
                return self._open("trial run failed")
            if self._state == "closed" and self._failures >= self.failure_threshold:
                return self._open(f"{self._failures} failures in a row")
            return None

    def release(self) -> None:
        """Forget a run whose outcome says nothing about the provider (e.g. interrupted)."""
        with self._lock:
            self._trial_started = None

    def _open(self, reason: str) -> Transition:
        self._opened_at = self.clock.monotonic()
        self._open_until = self.clock.now() + timedelta(seconds=self.reset_timeout_s)
        return self._move("open", reason)

    def _open_message(self) -> str:
        until = f"{self._open_until:%H:%M:%S} UTC" if self._open_until else "the reset timeout"
        last = f"; last error: {self._last_error}" if self._last_error else ""
        return (
            f"circuit open for agent {self.name} until {until} "
            f"after {self._failures} failure(s) in a row{last}"
        )

    def _move(self, to_state: BreakerState, reason: str) -> Transition:
        transition = Transition(
            agent=self.name,
            from_state=self._state,
            to_state=to_state,
            at=self.clock.now(),
            failures=self._failures,
            reason=reason,
        )
        self._state = to_state
        self.transitions.append(transition)
        for listener in list(self.listeners):
            listener(transition)
        return transition

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self._state!r}, failures={self._failures})"


class BreakerRegistry:
    """One breaker per agent, all with the same settings and listeners."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.clock: Clock = clock or SystemClock()
        self.listeners: list[TransitionListener] = []
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, agent: str) -> CircuitBreaker:
        with self._lock:
            breaker = self._breakers.get(agent)
            if breaker is None:
                breaker = self._breakers[agent] = CircuitBreaker(
                    agent,
                    failure_threshold=self.failure_threshold,
                    reset_timeout_s=self.reset_timeout_s,
                    clock=self.clock,
                    listeners=self.listeners,
                )
            return breaker

    def states(self) -> dict[str, BreakerState]:
        with self._lock:
            return {name: breaker.state for name, breaker in self._breakers.items()}

    def transitions(self) -> list[Transition]:
        """Every remembered transition of every agent, oldest first."""
        with self._lock:
            breakers = list(self._breakers.values())
        return sorted((t for b in breakers for t in b.transitions), key=lambda t: t.at)
