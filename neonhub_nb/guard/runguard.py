"""What stands between a live run and the provider: the spending cap and the breaker.

The orchestrator asks :meth:`RunGuard.admit` before the agent runs and reports the
outcome to :meth:`RunGuard.settle` after it. A refused run is not an exception for the
caller: the orchestrator records it as ``failed`` with the reason, like any other failure.
Kept out of the orchestrator so that file stays about running and recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import (
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    ContentFilteredError,
    IncompleteAnswerError,
    InvalidInputError,
)
from ..ids import new_id
from ..models import Metric
from ..records import ToolExecution
from .breaker import BreakerRegistry, Transition
from .budget import Budget

__all__ = [
    "BREAKER_METRIC",
    "RunGuard",
    "Verdict",
    "counts_against_breaker",
    "transition_execution",
]

# Per-run metric the exporter sums into neonhub_circuit_breaker_failures_total{agent}.
BREAKER_METRIC = "breaker_failures"


@dataclass
class Verdict:
    """The guard's answer for one run, and what it saw happen."""

    error: str | None = None
    metrics: list[Metric] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    def take_transitions(self) -> list[Transition]:
        taken, self.transitions = self.transitions, []
        return taken


def counts_against_breaker(error: BaseException) -> bool:
    """Whether a failure says something about the provider (not the caller's input,
    the configuration, or an interrupt)."""
    if not isinstance(error, Exception):
        return False
    # A filtered answer or a tool call is about this request's content, not an outage.
    if isinstance(error, ContentFilteredError | IncompleteAnswerError):
        return False
    return not isinstance(error, InvalidInputError | ConfigError | BudgetExceededError)


class RunGuard:
    def __init__(self, breakers: BreakerRegistry | None = None, budget: Budget | None = None):
        self.breakers = breakers
        self.budget = budget

    def admit(self, agent: str, experiment_id: str | None) -> Verdict:
        verdict = Verdict()
        # Budget first: a refused run must not take the breaker's half-open trial slot.
        try:
            if self.budget is not None:
                self.budget.check(experiment_id)
            if self.breakers is not None:
                transition = self.breakers.get(agent).allow()
                if transition is not None:
                    verdict.transitions.append(transition)
        except BudgetExceededError as exc:
            verdict.error = f"{type(exc).__name__}: {exc}"
        except CircuitOpenError as exc:
            verdict.error = f"{type(exc).__name__}: {exc}"
            verdict.metrics.append(Metric(name=BREAKER_METRIC, value=1, unit="runs"))
        return verdict

    def settle(
        self,
        agent: str,
        experiment_id: str | None,
        cost_usd: float,
        failure: BaseException | None,
        verdict: Verdict,
    ) -> None:
        """Charge the run's cost and tell the breaker how it went."""
        if self.budget is not None:
            self.budget.charge(cost_usd, experiment_id)
        if self.breakers is None:
            return
        breaker = self.breakers.get(agent)
        transition: Transition | None = None
        if failure is None:
            transition = breaker.record_success()
        elif counts_against_breaker(failure):
            verdict.metrics.append(Metric(name=BREAKER_METRIC, value=1, unit="runs"))
            transition = breaker.record_failure(f"{type(failure).__name__}: {failure}")
        else:
            breaker.release()
        if transition is not None:
            verdict.transitions.append(transition)


def transition_execution(run_id: str, seq: int, transition: Transition) -> ToolExecution:
    """A breaker transition as the tool execution the dashboard lists."""
    return ToolExecution(
        execution_id=new_id("tex"),
        run_id=run_id,
        seq=seq,
        tool="circuit_breaker",
        operation="transition",
        status="succeeded",
        started_at=transition.at,
        duration_ms=0.0,
        request=transition.as_request(),
        response={"state": transition.to_state},
    )
