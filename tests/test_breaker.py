"""The circuit breaker on a fake clock, alone and inside the orchestrator."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from neonhub_nb import DraftParams
from neonhub_nb.agents import AgentCatalog
from neonhub_nb.clock import FakeClock
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.errors import CircuitOpenError, ConfigError, InvalidInputError, LLMError
from neonhub_nb.guard import RunGuard, counts_against_breaker
from neonhub_nb.guard.breaker import (
    BreakerRegistry,
    CircuitBreaker,
    Transition,
)
from neonhub_nb.llm import Completion, Messages, MockLLM, TokenCallback
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.runtime import Runtime, default_runtime
from neonhub_nb.store import AuditStore


def breaker(threshold: int = 3, reset: float = 30.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker("content", failure_threshold=threshold, reset_timeout_s=reset,
                          clock=clock), clock  # fmt: skip


def test_opens_after_the_threshold_and_fails_fast_with_the_time() -> None:
    b, _ = breaker(threshold=3)
    assert b.record_failure("LLMError: HTTP 500") is None
    assert b.record_failure("LLMError: HTTP 500") is None
    opened = b.record_failure("LLMError: HTTP 500")
    assert opened is not None
    assert (opened.from_state, opened.to_state, opened.failures) == ("closed", "open", 3)
    assert b.state == "open"
    with pytest.raises(CircuitOpenError) as caught:
        b.allow()
    assert str(caught.value) == (
        "circuit open for agent content until 12:00:30 UTC after 3 failure(s) in a row; "
        "last error: LLMError: HTTP 500"
    )


def test_a_success_resets_the_count() -> None:
    b, _ = breaker(threshold=2)
    b.record_failure()
    assert b.record_success() is None
    assert b.record_failure() is None
    assert b.state == "closed"


def test_half_opens_after_the_reset_timeout_and_closes_on_success() -> None:
    b, clock = breaker(threshold=1, reset=10)
    b.record_failure()
    clock.advance(9.9)
    with pytest.raises(CircuitOpenError):
        b.allow()
    clock.advance(0.1)
    half = b.allow()
    assert half is not None and (half.from_state, half.to_state) == ("open", "half_open")
    # Only one trial at a time.
    with pytest.raises(CircuitOpenError, match="trial run is in progress"):
        b.allow()
    closed = b.record_success()
    assert closed is not None and closed.to_state == "closed"
    assert b.allow() is None


def test_a_failed_trial_opens_it_again_with_a_new_deadline() -> None:
    b, clock = breaker(threshold=1, reset=10)
    b.record_failure()
    clock.advance(10)
    b.allow()
    reopened = b.record_failure("still down")
    assert reopened is not None and (reopened.from_state, reopened.to_state) == (
        "half_open",
        "open",
    )
    assert b.open_until == datetime(2026, 1, 1, 12, 0, 20)
    with pytest.raises(CircuitOpenError, match="until 12:00:20 UTC"):
        b.allow()


def test_a_trial_that_never_reports_back_expires() -> None:
    b, clock = breaker(threshold=1, reset=5)
    b.record_failure()
    clock.advance(5)
    b.allow()  # the trial's thread dies without reporting
    clock.advance(5)
    assert b.allow() is None  # the next caller becomes the trial
    b.release()
    assert b.allow() is None


def test_transitions_are_kept_and_sent_to_listeners() -> None:
    seen: list[Transition] = []
    registry = BreakerRegistry(failure_threshold=1, reset_timeout_s=1, clock=FakeClock())
    registry.listeners.append(seen.append)
    registry.get("seo").record_failure()
    registry.get("content").record_failure()
    assert [t.agent for t in seen] == ["seo", "content"]
    assert registry.states() == {"seo": "open", "content": "open"}
    assert [t.as_request()["to"] for t in registry.transitions()] == ["open", "open"]
    assert registry.get("seo") is registry.get("seo")


def test_thread_safe_counting() -> None:
    b, _ = breaker(threshold=1000)
    threads = [
        threading.Thread(target=lambda: [b.record_failure() for _ in range(100)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.failures == 800


def _endpoint(url: str, threshold: int = 5, reset_s: float = 30) -> Settings:
    return load_settings(
        {
            "OPENAI_BASE_URL": url,
            "NEONHUB_BREAKER_THRESHOLD": str(threshold),
            "NEONHUB_BREAKER_RESET_S": str(reset_s),
        }
    )


def test_the_runtime_keeps_breakers_per_endpoint() -> None:
    runtime = Runtime()
    a = runtime.breakers(_endpoint("http://127.0.0.1:1/v1"))
    assert runtime.breakers(_endpoint("http://127.0.0.1:1/v1")) is a
    assert runtime.breakers(_endpoint("http://127.0.0.1:2/v1")) is not a
    assert Runtime().breakers(_endpoint("http://127.0.0.1:1/v1")) is not a
    runtime.reset()
    assert runtime.breakers(_endpoint("http://127.0.0.1:1/v1")) is not a


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError, match="reset_timeout_s"):
        CircuitBreaker("x", reset_timeout_s=0)


@pytest.mark.parametrize(
    ("error", "counts"),
    [
        (LLMError("HTTP 500"), True),
        (RuntimeError("bug in a connector"), True),
        (InvalidInputError("topic", "must not be empty"), False),
        (ConfigError("no endpoint"), False),
        (KeyboardInterrupt(), False),
    ],
)
def test_which_failures_count(error: BaseException, counts: bool) -> None:
    assert counts_against_breaker(error) is counts


class FlakyLLM(MockLLM):
    """The mock writer, failing while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__(AgentCatalog.builtin().mock_writers())
        self.down = True

    def complete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        if self.down:
            raise LLMError("flaky at http://127.0.0.1:9/v1: HTTP 503 (gave up after 4 attempt(s))")
        return super().complete(messages, model=model, seed=seed, on_token=on_token)


REQUEST = RunRequest(
    intent="content.generate_article",
    params=DraftParams(topic="Breakers", primary_keyword="circuit breaker").model_dump(),
)


def test_orchestrator_records_failures_rejections_and_transitions(
    settings: Settings, store: AuditStore
) -> None:
    clock = FakeClock()
    llm = FlakyLLM()
    guard = RunGuard(BreakerRegistry(failure_threshold=2, reset_timeout_s=60, clock=clock))
    orchestrator = build_orchestrator(settings, store=store, llm=llm, clock=clock, guard=guard)

    failed = [orchestrator.run(REQUEST) for _ in range(2)]
    assert [r.status for r in failed] == ["failed", "failed"]
    assert failed[1].tool_executions[-1].tool == "circuit_breaker"
    assert failed[1].tool_executions[-1].request == {
        "agent": "content",
        "from": "closed",
        "to": "open",
        "failures": 2,
        "reason": "2 failures in a row",
    }

    rejected = orchestrator.run(REQUEST)
    assert rejected.status == "failed"
    assert rejected.error == (
        "CircuitOpenError: circuit open for agent content until 12:01:00 UTC after 2 "
        "failure(s) in a row; last error: LLMError: flaky at http://127.0.0.1:9/v1: "
        "HTTP 503 (gave up after 4 attempt(s))"
    )
    assert rejected.tool_executions == ()
    assert llm.calls == 0  # MockLLM.complete never reached: failing fast costs nothing

    clock.advance(60)
    llm.down = False
    recovered = orchestrator.run(REQUEST)
    assert recovered.status == "succeeded"
    moves = [
        (t.request["from"], t.request["to"])
        for t in recovered.tool_executions
        if t.tool == "circuit_breaker"
    ]
    assert moves == [("open", "half_open"), ("half_open", "closed")]

    metrics = store.sql(
        "SELECT r.run_id, m.value FROM agent_runs r JOIN agent_run_metrics m USING (run_id) "
        "WHERE m.name = 'breaker_failures' ORDER BY r.started_at"
    )
    assert sorted(metrics["run_id"]) == sorted([*(r.run_id for r in failed), rejected.run_id])
    transitions = store.sql(
        "SELECT request FROM tool_executions WHERE tool = 'circuit_breaker' "
        "AND operation = 'transition' ORDER BY started_at, seq"
    )
    assert [json.loads(r)["to"] for r in transitions["request"]] == ["open", "half_open", "closed"]


def test_mock_mode_has_no_guard_by_default(settings: Settings, store: AuditStore) -> None:
    assert build_orchestrator(settings, store=store).guard is None


def test_live_mode_gets_the_shared_guard(tmp_path: Path, store: AuditStore) -> None:
    from neonhub_nb.config import load_settings

    live = load_settings(
        {
            "NEONHUB_MODE": "live",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "NEONHUB_BREAKER_THRESHOLD": "7",
            "NEONHUB_BREAKER_RESET_S": "12.5",
            "NEONHUB_DB": str(tmp_path / "x.duckdb"),
        }
    )
    guard = build_orchestrator(live, store=store).guard
    assert guard is not None and guard.breakers is not None
    assert (guard.breakers.failure_threshold, guard.breakers.reset_timeout_s) == (7, 12.5)
    assert guard.breakers is default_runtime().breakers(live)
