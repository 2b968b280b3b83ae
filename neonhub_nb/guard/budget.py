"""Spending caps for live runs: one per process, one per experiment.

A live run that would *start* past a cap is refused (and recorded as failed with the
reason), so an analyst's loop cannot run up a bill. A run already under way is never cut
off: the cap bounds how far spending can go past it by the cost of the runs in flight.

The process total lives in memory, in the runtime's :class:`SpendTracker`
(``NEONHUB_MAX_COST_USD`` is per process by design).
An experiment's total starts from what the audit store already holds for it, so
restarting a kernel does not reset an experiment's spending.

>>> budget = Budget(max_cost_usd=1.0, tracker=SpendTracker())     # doctest: +SKIP
>>> budget.check(None); budget.charge(0.4, None)                   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import BudgetExceededError

if TYPE_CHECKING:
    from ..config import Settings
    from ..store.base import Store

__all__ = ["Budget", "SpendTracker", "experiment_spend_from_store"]

ExperimentSpendLoader = Callable[[str], float]


class SpendTracker:
    """Live spending so far: the process total and the total per experiment."""

    def __init__(self) -> None:
        self.total_usd = 0.0
        self._experiments: dict[str, float] = {}
        self._caps: dict[str, float] = {}
        self._lock = threading.Lock()

    def charge(self, cost_usd: float, experiment_id: str | None) -> None:
        if cost_usd <= 0:
            return
        with self._lock:
            self.total_usd += cost_usd
            if experiment_id is not None and experiment_id in self._experiments:
                self._experiments[experiment_id] += cost_usd

    def experiment_usd(self, experiment_id: str, load: ExperimentSpendLoader | None) -> float:
        """The experiment's spending; loaded once (from the store) on first use."""
        with self._lock:
            if experiment_id in self._experiments:
                return self._experiments[experiment_id]
        loaded = load(experiment_id) if load is not None else 0.0
        with self._lock:
            # The loaded figure already includes this process's recorded runs.
            return self._experiments.setdefault(experiment_id, loaded)

    def set_experiment_cap(self, experiment_id: str, max_cost_usd: float | None) -> None:
        """Cap one experiment (overrides ``NEONHUB_EXPERIMENT_MAX_COST_USD``)."""
        if max_cost_usd is not None and max_cost_usd < 0:
            raise ValueError(f"max_cost_usd must not be negative (got {max_cost_usd})")
        with self._lock:
            if max_cost_usd is None:
                self._caps.pop(experiment_id, None)
            else:
                self._caps[experiment_id] = max_cost_usd

    def experiment_cap(self, experiment_id: str) -> float | None:
        with self._lock:
            return self._caps.get(experiment_id)

    def reset(self) -> None:
        with self._lock:
            self.total_usd = 0.0
            self._experiments.clear()
            self._caps.clear()


class Budget:
    """The caps a live run is checked against before it starts."""

    def __init__(
        self,
        *,
        max_cost_usd: float | None = None,
        max_experiment_cost_usd: float | None = None,
        tracker: SpendTracker | None = None,
        experiment_spend: ExperimentSpendLoader | None = None,
    ) -> None:
        self.max_cost_usd = max_cost_usd
        self.max_experiment_cost_usd = max_experiment_cost_usd
        self.tracker = tracker if tracker is not None else SpendTracker()
        self.experiment_spend = experiment_spend

    @classmethod
    def from_settings(
        cls, settings: Settings, tracker: SpendTracker, store: Store | None = None
    ) -> Budget:
        """The caps of ``settings``, charged to ``tracker`` (the runtime's)."""
        return cls(
            max_cost_usd=settings.max_cost_usd,
            max_experiment_cost_usd=settings.max_experiment_cost_usd,
            tracker=tracker,
            experiment_spend=(
                (lambda experiment_id: experiment_spend_from_store(store, experiment_id))
                if store is not None
                else None
            ),
        )

    def check(self, experiment_id: str | None) -> None:
        """Raise :class:`BudgetExceededError` if a run must not start."""
        if self.max_cost_usd is not None and self.tracker.total_usd >= self.max_cost_usd:
            raise BudgetExceededError(
                f"spending cap reached: this process has spent "
                f"${self.tracker.total_usd:.4f} of NEONHUB_MAX_COST_USD=${self.max_cost_usd:.4f}; "
                "raise the cap or start a new process to run more live drafts"
            )
        if experiment_id is None:
            return
        cap = self.tracker.experiment_cap(experiment_id)
        if cap is None:
            cap = self.max_experiment_cost_usd
        if cap is None:
            return
        spent = self.tracker.experiment_usd(experiment_id, self.experiment_spend)
        if spent >= cap:
            raise BudgetExceededError(
                f"spending cap reached for experiment {experiment_id}: "
                f"${spent:.4f} spent of its ${cap:.4f} cap; raise the cap "
                "(NEONHUB_EXPERIMENT_MAX_COST_USD or set_experiment_cap) to run more"
            )

    def charge(self, cost_usd: float, experiment_id: str | None) -> None:
        self.tracker.charge(cost_usd, experiment_id)


def experiment_spend_from_store(store: Store | None, experiment_id: str) -> float:
    """What the store says an experiment's live runs have cost so far."""
    if store is None:
        return 0.0
    frame = store.sql(
        "SELECT coalesce(sum(m.value), 0) AS spent FROM agent_run_metrics m "
        "JOIN agent_runs r USING (run_id) "
        "WHERE m.name = 'cost_usd' AND r.mode = 'live' AND r.experiment_id = ?",
        [experiment_id],
    )
    return float(frame["spent"].iloc[0])
