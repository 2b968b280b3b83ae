"""Spending caps: per process and per experiment; a refused live run is recorded as failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neonhub_nb import DraftParams, run_agent
from neonhub_nb.errors import BudgetExceededError
from neonhub_nb.guard import Budget, SpendTracker
from neonhub_nb.runtime import default_runtime
from neonhub_nb.store import AuditStore

from .faultserver import FaultServer
from .live_support import live_settings

pytestmark = pytest.mark.usefixtures("fresh_live_state")

PARAMS = DraftParams(topic="Budgets", primary_keyword="spending cap", word_count=50)
# The fault server reports 11 prompt tokens and one completion token per word (11 words
# in its default answer); priced at $1000 per million tokens each way.
RUN_COST = (11 + 11) * 1000 / 1_000_000


def test_the_process_cap_refuses_once_reached() -> None:
    budget = Budget(max_cost_usd=1.0, tracker=SpendTracker())
    budget.check(None)
    budget.charge(0.6, None)
    budget.check(None)
    budget.charge(0.6, None)  # a run in flight may go past the cap ...
    with pytest.raises(BudgetExceededError) as caught:  # ... the next one may not start
        budget.check(None)
    assert str(caught.value) == (
        "spending cap reached: this process has spent $1.2000 of NEONHUB_MAX_COST_USD=$1.0000; "
        "raise the cap or start a new process to run more live drafts"
    )


def test_the_experiment_cap_starts_from_the_store_and_counts_new_spending() -> None:
    loads: list[str] = []

    def from_store(experiment_id: str) -> float:
        loads.append(experiment_id)
        return 0.7

    budget = Budget(
        max_experiment_cost_usd=1.0, tracker=SpendTracker(), experiment_spend=from_store
    )
    budget.check("exp-a")
    budget.charge(0.2, "exp-a")
    budget.check("exp-a")
    budget.charge(0.2, "exp-a")
    with pytest.raises(BudgetExceededError, match=r"experiment exp-a: \$1.1000 spent of its"):
        budget.check("exp-a")
    budget.check(None)  # runs outside the experiment are not affected
    assert loads == ["exp-a"]  # loaded once, then tracked in memory


def test_a_cap_set_for_one_experiment_overrides_the_default() -> None:
    tracker = SpendTracker()
    budget = Budget(max_experiment_cost_usd=100.0, tracker=tracker)
    tracker.set_experiment_cap("cheap", 0.0)
    with pytest.raises(BudgetExceededError, match="experiment cheap"):
        budget.check("cheap")
    budget.check("other")
    tracker.set_experiment_cap("cheap", None)
    budget.check("cheap")
    with pytest.raises(ValueError, match="negative"):
        tracker.set_experiment_cap("cheap", -1)


def test_no_caps_no_checks() -> None:
    budget = Budget(tracker=SpendTracker())
    budget.charge(1e9, "exp")
    budget.check("exp")


def test_a_live_run_past_the_process_cap_is_recorded_failed_without_calling_the_model(
    server: FaultServer, tmp_path: Path
) -> None:
    settings = live_settings(server.url, tmp_path, NEONHUB_MAX_COST_USD="0")
    with AuditStore.from_settings(settings) as store:
        result = run_agent("content.generate_article", PARAMS, settings=settings, store=store)
        rows = store.sql("SELECT status, mode, error FROM agent_runs").values.tolist()
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(
        "BudgetExceededError: spending cap reached: this process has spent $0.0000 of "
        "NEONHUB_MAX_COST_USD=$0.0000"
    )
    assert rows == [["failed", "live", result.error]]
    assert server.requests == []


def test_mock_mode_is_never_capped(tmp_path: Path, store: AuditStore) -> None:
    settings = live_settings("http://127.0.0.1:9/v1", tmp_path, NEONHUB_MAX_COST_USD="0")
    result = run_agent(
        "content.generate_article", PARAMS, settings=settings, mode="mock", store=store
    )
    assert result.status == "succeeded"


def test_live_spending_is_charged_and_the_experiment_cap_survives_a_restart(
    server: FaultServer, tmp_path: Path
) -> None:
    settings = live_settings(
        server.url,
        tmp_path,
        NEONHUB_EXPERIMENT_MAX_COST_USD=str(RUN_COST * 1.5),
        NEONHUB_PRICES=json.dumps({"fault-model": [1000, 1000]}),
    )
    with AuditStore.from_settings(settings) as store:
        runs = [
            run_agent(
                "content.generate_article",
                PARAMS,
                settings=settings,
                store=store,
                experiment_id="exp-1",
            )
            for _ in range(3)
        ]
        assert [r.status for r in runs] == ["succeeded", "succeeded", "failed"]
        assert runs[0].cost_usd == pytest.approx(RUN_COST)
        assert default_runtime().spend.total_usd == pytest.approx(2 * RUN_COST)
        assert runs[2].error is not None
        assert "spending cap reached for experiment exp-1" in runs[2].error

        default_runtime().spend.reset()  # a new kernel: memory is empty, the store is not
        again = run_agent(
            "content.generate_article",
            PARAMS,
            settings=settings,
            store=store,
            experiment_id="exp-1",
        )
        assert again.status == "failed"
        other = run_agent(
            "content.generate_article",
            PARAMS,
            settings=settings,
            store=store,
            experiment_id="exp-2",
        )
        assert other.status == "succeeded"
    assert len(server.requests) == 3
