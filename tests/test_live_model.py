"""Live mode end to end against a real model server: llama-server serving Gemma 3 270M.

The model is a small base model, so its prose is poor: these tests check the plumbing
(streaming, usage, cost, recording, prompt versions, structured output, determinism,
errors), never the writing. Run ``scripts/build_llama_server.sh`` once per machine; the
session fixture starts the server on 127.0.0.1 and stops it after the last test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from neonhub_nb import DraftParams, run_agent
from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.llm.tokens import Price
from neonhub_nb.runtime import default_runtime
from neonhub_nb.store import AuditStore

from .live_support import live_settings
from .llama import MODEL_ALIAS, LlamaServer

pytestmark = [pytest.mark.live_model, pytest.mark.usefixtures("fresh_live_state")]

QUESTION = [{"role": "user", "content": "Write one sentence about email newsletters."}]
PARAMS = DraftParams(
    topic="Email newsletters for bakeries",
    primary_keyword="bakery newsletter",
    word_count=50,
)


@pytest.fixture
def llm(llama: LlamaServer, tmp_path: Path) -> Iterator[OpenAILLM]:
    client = OpenAILLM.from_settings(
        live_settings(llama.url, tmp_path, NEONHUB_MODEL=MODEL_ALIAS, NEONHUB_LLM_TIMEOUT_S="60")
    )
    yield client
    client.close()


def test_tokens_stream_in_and_usage_comes_from_the_stream(llm: OpenAILLM) -> None:
    tokens: list[str] = []
    completion = llm.complete(
        QUESTION, model=MODEL_ALIAS, temperature=0, seed=1, max_tokens=24, on_token=tokens.append
    )
    assert len(tokens) > 1
    assert "".join(tokens) == completion.text
    assert completion.usage_source == "response"
    assert completion.prompt_tokens > 5
    assert 1 <= completion.completion_tokens <= 24
    assert (completion.attempts, completion.rate_limited) == (1, 0)


def test_max_tokens_ends_with_finish_reason_length(llm: OpenAILLM) -> None:
    completion = llm.complete(QUESTION, model=MODEL_ALIAS, temperature=0, seed=1, max_tokens=5)
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 5


def test_temperature_zero_with_a_seed_is_deterministic(llm: OpenAILLM) -> None:
    texts = {
        llm.complete(QUESTION, model=MODEL_ALIAS, temperature=0, seed=42, max_tokens=32).text
        for _ in range(2)
    }
    assert len(texts) == 1
    assert texts.pop().strip()


def test_json_schema_structured_output_is_parsed(llm: OpenAILLM) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 60},
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
        },
        "required": ["title", "score"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "rating", "schema": schema}}
    completion = llm.complete(
        [{"role": "user", "content": "Rate an article about newsletters as JSON."}],
        model=MODEL_ALIAS,
        temperature=0,
        seed=3,
        max_tokens=80,
        response_format=response_format,
    )
    data = completion.json()
    assert set(data) == {"title", "score"}
    assert isinstance(data["title"], str) and isinstance(data["score"], int)
    assert 0 <= data["score"] <= 10


def test_acomplete_runs_requests_in_parallel(llm: OpenAILLM) -> None:
    async def main() -> list[int]:
        try:
            done = await asyncio.gather(
                *(
                    llm.acomplete(QUESTION, model=MODEL_ALIAS, temperature=0, seed=s, max_tokens=8)
                    for s in range(4)
                )
            )
        finally:
            await llm.aclose()
        return [c.completion_tokens for c in done]

    assert all(1 <= n <= 8 for n in asyncio.run(main()))


def test_a_prompt_longer_than_the_context_is_a_clear_error_not_retried(llm: OpenAILLM) -> None:
    huge = [{"role": "user", "content": "newsletter " * 9000}]
    with pytest.raises(LLMError) as caught:
        llm.complete(huge, model=MODEL_ALIAS, max_tokens=4)
    assert "HTTP 400" in str(caught.value)
    assert caught.value.attempts == 1


def test_run_agent_in_live_mode_records_run_usage_cost_and_prompt_version_and_caps(
    llama: LlamaServer, tmp_path: Path
) -> None:
    settings = live_settings(
        llama.url,
        tmp_path,
        NEONHUB_MODEL=MODEL_ALIAS,
        NEONHUB_LLM_TIMEOUT_S="60",
        NEONHUB_PRICES=json.dumps({MODEL_ALIAS: [100.0, 200.0]}),
    )
    tokens: list[str] = []
    store = AuditStore.from_settings(settings, ingest_interval=0.05)
    result = run_agent(
        "content.generate_article",
        PARAMS,
        settings=settings,
        store=store,
        prompt_version="v1",
        seed=5,
        on_token=tokens.append,
    )
    assert result.status == "succeeded", result.error
    assert result.mode == "live"
    assert "".join(tokens).strip() == result.content.strip()
    prices = default_runtime().prices_for(settings)
    assert prices.get(MODEL_ALIAS) == Price(100.0, 200.0)
    assert default_runtime().prices.get(MODEL_ALIAS) is None  # NEONHUB_PRICES is not stored
    expected_cost = prices.cost_usd(MODEL_ALIAS, result.prompt_tokens, result.completion_tokens)
    assert result.cost_usd == pytest.approx(expected_cost) and expected_cost > 0
    with store:
        row = store.sql(
            "SELECT status, mode, model, prompt_name, prompt_version FROM agent_runs"
        ).iloc[0]
        call = store.sql(
            "SELECT tool, operation, request, response FROM tool_executions WHERE tool = 'llm'"
        ).iloc[0]
        metrics = dict(store.sql("SELECT name, value FROM agent_run_metrics").values.tolist())
    assert tuple(row) == ("succeeded", "live", MODEL_ALIAS, "content.article", "v1")
    response = json.loads(call["response"])
    request = json.loads(call["request"])
    assert (request["model"], request["seed"]) == (MODEL_ALIAS, 5)
    assert response["usage"] == {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "source": "response",
    }
    assert (response["attempts"], response["rate_limited"]) == (1, 0)
    assert response["cost_usd"] == pytest.approx(expected_cost)
    assert metrics["cost_usd"] == pytest.approx(expected_cost)
    assert metrics["completion_tokens"] == result.completion_tokens

    # That run's cost now counts against this process's cap: the next one is refused.
    capped = replace(settings, max_cost_usd=expected_cost / 2)
    with AuditStore.from_settings(capped) as store:
        refused = run_agent("content.generate_article", PARAMS, settings=capped, store=store)
        rows = store.sql("SELECT status, error FROM agent_runs WHERE run_id = ?", [refused.run_id])
    assert refused.status == "failed"
    assert refused.error is not None
    assert refused.error.startswith("BudgetExceededError: spending cap reached")
    assert refused.tool_executions == ()  # refused before any model call
    assert rows.values.tolist() == [["failed", refused.error]]
