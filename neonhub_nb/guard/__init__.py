"""What stands between a live run and the provider: spending caps and circuit breakers.

The orchestrator asks :meth:`RunGuard.admit` before a guarded run (the mode table says
which runs are guarded) and reports the outcome to :meth:`RunGuard.settle`. The breakers
and the spend belong to the runtime, so they outlive each call's orchestrator.
"""

from __future__ import annotations

from .breaker import BreakerRegistry, BreakerState, CircuitBreaker, Transition, TransitionListener
from .budget import Budget, SpendTracker, experiment_spend_from_store
from .runguard import (
    BREAKER_METRIC,
    RunGuard,
    Verdict,
    counts_against_breaker,
    transition_execution,
)

__all__ = [
    "BREAKER_METRIC",
    "BreakerRegistry",
    "BreakerState",
    "Budget",
    "CircuitBreaker",
    "RunGuard",
    "SpendTracker",
    "Transition",
    "TransitionListener",
    "Verdict",
    "counts_against_breaker",
    "experiment_spend_from_store",
    "transition_execution",
]
