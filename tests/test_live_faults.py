"""Live runs through the orchestrator against a failing server: recorded, never crashing.

Each fault ends as a ``failed`` run with a message an analyst can act on, the LLM call's
record counts its attempts and 429s, and the breaker opens and recovers as configured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb import DraftParams, run_agent
from neonhub_nb.config import Settings, load_settings
from neonhub_nb.errors import ConfigError
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.models import RunRequest, RunResult
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import AuditStore

from .faultserver import Fault, FaultServer
from .live_support import SleepLog, live_settings

pytestmark = pytest.mark.usefixtures("fresh_live_state")

REQUEST = RunRequest(
    intent="content.generate_article",
    params=DraftParams(
        topic="Faults", primary_keyword="flaky provider", word_count=50
    ).model_dump(),
)


def run_live(
    settings: Settings, store: AuditStore, clock: SleepLog | None = None, **kwargs: Any
) -> RunResult:
    """One run with the real live client, its backoff waits on a fake clock."""
    clock = clock or SleepLog()
    llm = OpenAILLM.from_settings(settings, clock=clock, async_sleep=clock.async_sleep)
    try:
        return build_orchestrator(settings, store=store, llm=llm).run(REQUEST, **kwargs)
    finally:
        llm.close()


def llm_call(store: AuditStore, run_id: str) -> dict[str, Any]:
    row = store.sql(
        "SELECT status, response, error FROM tool_executions WHERE run_id = ? AND tool = 'llm'",
        [run_id],
    ).iloc[0]
    return {"status": row["status"], "response": json.loads(row["response"]), "error": row["error"]}


def test_server_errors_end_as_a_failed_run_with_the_attempts_recorded(
    server: FaultServer, tmp_path: Path, store: AuditStore
) -> None:
    server.push(*[Fault.status(500)] * 3)
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="2")
    clock = SleepLog()
    result = run_live(settings, store, clock)
    assert result.status == "failed"
    assert result.error == (
        f"LLMError: fault-model at {server.url}: HTTP 500: scripted 500 "
        "(gave up after 3 attempt(s))"
    )
    call = llm_call(store, result.run_id)
    assert call["status"] == "failed"
    assert call["response"] == {
        "attempts": 3,
        "rate_limited": 0,
        "http_status": 500,
        "failure": "http",
        "retryable": True,
        "retry_wait_s": pytest.approx(sum(clock.sleeps)),
    }
    assert len(clock.sleeps) == 2
    assert store.sql("SELECT status FROM agent_runs").values.tolist() == [["failed"]]


def test_a_429_is_waited_out_and_counted_in_the_store(
    server: FaultServer, tmp_path: Path, store: AuditStore
) -> None:
    server.push(Fault.rate_limited("2"), Fault.ok())
    clock = SleepLog()
    result = run_live(live_settings(server.url, tmp_path), store, clock)
    assert result.status == "succeeded"
    assert clock.sleeps == [2.0]
    response = llm_call(store, result.run_id)["response"]
    assert (response["attempts"], response["rate_limited"]) == (2, 1)


def test_429s_until_giving_up_are_counted_on_the_failed_call(
    server: FaultServer, tmp_path: Path, store: AuditStore
) -> None:
    server.push(*[Fault.rate_limited("1")] * 2)
    settings = live_settings(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="1")
    result = run_live(settings, store)
    assert result.status == "failed"
    assert llm_call(store, result.run_id)["response"]["rate_limited"] == 2


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.hang(5), "timed out after 0.2s"),
        (Fault.malformed(), "malformed response"),
        (Fault.cut(2), "connection failed (RemoteProtocolError"),
        (Fault.status(404), "HTTP 404"),
    ],
)
def test_each_fault_is_a_recorded_failure_with_a_useful_message(
    server: FaultServer, tmp_path: Path, store: AuditStore, fault: Fault, message: str
) -> None:
    server.push(fault)
    settings = live_settings(
        server.url, tmp_path, NEONHUB_LLM_TIMEOUT_S="0.2", NEONHUB_LLM_MAX_RETRIES="0"
    )
    tokens: list[str] = []
    result = run_live(settings, store, on_token=tokens.append)
    assert result.status == "failed"
    assert result.error is not None and message in result.error
    assert store.sql("SELECT error FROM agent_runs").values.tolist() == [[result.error]]


def test_secrets_in_provider_errors_never_reach_the_store(
    server: FaultServer, tmp_path: Path, store: AuditStore
) -> None:
    key = "sk-proj-abcdefghijklmnop0123456789"
    server.push(Fault.echo_auth())
    result = run_live(live_settings(server.url, tmp_path, OPENAI_API_KEY=key), store)
    assert result.status == "failed"
    assert result.error is not None and "[REDACTED]" in result.error
    with store.connect() as con:
        dump = str(con.execute("SELECT * FROM agent_runs").fetchall())
        dump += str(con.execute("SELECT * FROM tool_executions").fetchall())
    assert key not in dump


def test_the_breaker_opens_fails_fast_and_recovers_as_configured(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(*[Fault.status(503)] * 2)
    settings = live_settings(
        server.url,
        tmp_path,
        NEONHUB_LLM_MAX_RETRIES="0",
        NEONHUB_BREAKER_THRESHOLD="2",
        NEONHUB_BREAKER_RESET_S="0.3",
    )
    params = REQUEST.params
    with AuditStore.from_settings(settings) as store:
        first, second, rejected = (
            run_agent(REQUEST.intent, params, settings=settings, store=store) for _ in range(3)
        )
        assert [first.status, second.status, rejected.status] == ["failed"] * 3
        assert rejected.error is not None
        assert rejected.error.startswith("CircuitOpenError: circuit open for agent content until ")
        assert "after 2 failure(s) in a row; last error: LLMError:" in rejected.error
        assert len(server.requests) == 2  # the rejected run never reached the server

        time.sleep(0.3)
        recovered = run_agent(REQUEST.intent, params, settings=settings, store=store)
        assert recovered.status == "succeeded"
        transitions = store.sql(
            "SELECT request FROM tool_executions WHERE tool = 'circuit_breaker' "
            "ORDER BY started_at, seq"
        )["request"].map(json.loads)
        breaker_failures = store.sql(
            "SELECT count(*) FROM agent_run_metrics WHERE name = 'breaker_failures'"
        ).iloc[0, 0]
    assert [(t["from"], t["to"]) for t in transitions] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert breaker_failures == 3  # two counted failures and one rejection


def test_live_settings_are_read_and_checked() -> None:
    settings = load_settings(
        {
            "NEONHUB_LLM_TIMEOUT_S": "12.5",
            "NEONHUB_LLM_MAX_RETRIES": "0",
            "NEONHUB_BREAKER_THRESHOLD": "2",
            "NEONHUB_BREAKER_RESET_S": "90",
            "NEONHUB_RATE_LIMIT_RPM": "600",
            "NEONHUB_EXPERIMENT_MAX_COST_USD": "2.5",
            "NEONHUB_PRICES": '{"m": [1, 2]}',
        }
    )
    assert (settings.llm_timeout_s, settings.llm_max_retries) == (12.5, 0)
    assert (settings.breaker_threshold, settings.breaker_reset_s) == (2, 90.0)
    assert (settings.rate_limit_rpm, settings.max_experiment_cost_usd) == (600.0, 2.5)
    assert settings.prices == {"m": (1.0, 2.0)}
    defaults = load_settings({})
    assert (defaults.llm_timeout_s, defaults.llm_max_retries, defaults.rate_limit_rpm) == (
        60.0,
        3,
        None,
    )
    with pytest.raises(ConfigError, match="NEONHUB_LLM_MAX_RETRIES: must be a whole number"):
        load_settings({"NEONHUB_LLM_MAX_RETRIES": "three"})
    with pytest.raises(ConfigError, match="NEONHUB_BREAKER_THRESHOLD: must be at least 1"):
        load_settings({"NEONHUB_BREAKER_THRESHOLD": "0"})
    omit = load_settings({"NEONHUB_LLM_OMIT_FIELDS": " seed, stream_options,seed "})
    assert (omit.llm_omit_fields, defaults.llm_omit_fields) == (("seed", "stream_options"), ())
    with pytest.raises(
        ConfigError,
        match="NEONHUB_LLM_OMIT_FIELDS: must be a comma-separated list of stream_options, seed "
        r"\(got 'max_tokens'\)",
    ):
        load_settings({"NEONHUB_LLM_OMIT_FIELDS": "max_tokens"})


@pytest.mark.parametrize(
    "prices", ["{oops", '{"m": [NaN, 0.6]}', '{"m": [-1, 0.6]}', '{"m": [1]}', '{"m": ["1", 2]}']
)
def test_bad_prices_are_refused_when_settings_are_read(tmp_path: Path, prices: str) -> None:
    with pytest.raises(ConfigError, match="NEONHUB_PRICES"):
        live_settings("http://127.0.0.1:9/v1", tmp_path, NEONHUB_PRICES=prices)


def test_run_agent_reuses_one_live_client_per_endpoint(server: FaultServer, tmp_path: Path) -> None:
    from neonhub_nb.runtime import default_runtime

    runtime = default_runtime()
    settings = live_settings(server.url, tmp_path)
    assert build_orchestrator(settings).llm is runtime.live_model(settings)
    assert runtime.live_model(settings) is runtime.live_model(settings)
    other = live_settings(server.url + "/", tmp_path)
    assert runtime.live_model(settings) is not runtime.live_model(other)
