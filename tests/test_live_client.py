"""The live client against a real HTTP server on 127.0.0.1 that fails on cue.

500s, 429 with Retry-After, timeouts, malformed JSON and streams cut midway: each ends
in a retry or one clear LLMError, never anything else. Backoff waits go through a fake
clock, so the suite does not sleep; only the timeout tests wait (a fraction of a second).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from neonhub_nb.backoff import retry_after_seconds
from neonhub_nb.clock import FakeClock
from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import ModelRetryPolicy, OpenAILLM, endpoint_label
from neonhub_nb.llm.ratelimit import RateLimiter

from .faultserver import DEFAULT_TEXT, Fault, FaultServer
from .live_support import MESSAGES, SleepLog, live_llm

pytestmark = pytest.mark.usefixtures("fresh_live_state")


def test_streams_tokens_and_takes_usage_from_the_response(
    server: FaultServer, tmp_path: Path
) -> None:
    tokens: list[str] = []
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model", seed=7, on_token=tokens.append)
    assert "".join(tokens) == DEFAULT_TEXT == completion.text
    assert len(tokens) > 3
    assert (completion.prompt_tokens, completion.usage_source) == (11, "response")
    assert (completion.attempts, completion.rate_limited, completion.finish_reason) == (
        1,
        0,
        "stop",
    )
    sent = server.requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["seed"] == 7
    assert "max_tokens" not in sent  # omitted, not null


def test_connections_are_reused_between_calls(server: FaultServer, tmp_path: Path) -> None:
    # Reading each stream to its end returns the connection to the pool; stopping at
    # [DONE] would cost a new connection (a TLS handshake, against a real provider) per call.
    async def three(llm: OpenAILLM) -> None:
        try:
            for _ in range(3):
                await llm.acomplete(MESSAGES, model="fault-model")
        finally:
            await llm.aclose()

    with live_llm(server.url, tmp_path) as llm:
        for _ in range(3):
            llm.complete(MESSAGES, model="fault-model")
        asyncio.run(three(llm))
    assert (len(server.requests), server.connections) == (6, 2)


def test_counts_tokens_when_the_server_sends_no_usage(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.ok(usage=False))
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model")
    assert completion.usage_source == "counted"
    assert completion.prompt_tokens > 10
    assert completion.completion_tokens > 5


def test_retries_server_errors_with_jittered_backoff(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.status(500), Fault.status(503), Fault.ok())
    clock = SleepLog()
    with live_llm(server.url, tmp_path, clock) as llm:
        completion = llm.complete(MESSAGES, model="fault-model")
    assert completion.text == DEFAULT_TEXT
    assert completion.attempts == 3
    assert len(server.requests) == 3
    # Backoff 0.5 s then 1 s, each half fixed and half jitter.
    assert 0.25 <= clock.sleeps[0] <= 0.5
    assert 0.5 <= clock.sleeps[1] <= 1.0


def test_gives_up_after_max_retries_with_a_clear_message(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(*[Fault.status(500)] * 5)
    with (
        live_llm(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="2") as llm,
        pytest.raises(LLMError) as caught,
    ):
        llm.complete(MESSAGES, model="fault-model")
    message = str(caught.value)
    assert f"fault-model at {server.url}" in message
    assert "HTTP 500: scripted 500" in message
    assert "gave up after 3 attempt(s)" in message
    assert (caught.value.attempts, caught.value.status_code) == (3, 500)
    assert len(server.requests) == 3


def test_honours_retry_after_on_429_and_counts_it(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.rate_limited("7"), Fault.ok())
    clock = SleepLog()
    with live_llm(server.url, tmp_path, clock) as llm:
        completion = llm.complete(MESSAGES, model="fault-model")
    assert clock.sleeps == [7.0]
    assert (completion.attempts, completion.rate_limited) == (2, 1)


def test_a_retry_after_beyond_the_limit_fails_at_once(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.rate_limited("3600"))
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError) as caught:
        llm.complete(MESSAGES, model="fault-model")
    assert "asked to retry after 3600s" in str(caught.value)
    assert caught.value.rate_limited == 1
    assert len(server.requests) == 1


def test_client_errors_are_not_retried(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.status(400, body={"error": {"message": "model not found"}}))
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError, match="model not found"):
        llm.complete(MESSAGES, model="fault-model")
    assert len(server.requests) == 1


def test_timeouts_are_retried_then_reported(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.hang(5), Fault.hang(5))
    started = time.perf_counter()
    with (
        live_llm(
            server.url, tmp_path, NEONHUB_LLM_TIMEOUT_S="0.2", NEONHUB_LLM_MAX_RETRIES="1"
        ) as llm,
        pytest.raises(LLMError) as caught,
    ):
        llm.complete(MESSAGES, model="fault-model")
    assert "timed out after 0.2s (gave up after 2 attempt(s))" in str(caught.value)
    assert time.perf_counter() - started < 2.0


def test_a_stream_that_stalls_midway_times_out(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.stall(after_chunks=2, seconds=5))
    tokens: list[str] = []
    with (
        live_llm(server.url, tmp_path, NEONHUB_LLM_TIMEOUT_S="0.2") as llm,
        pytest.raises(LLMError) as caught,
    ):
        llm.complete(MESSAGES, model="fault-model", on_token=tokens.append)
    assert len(tokens) == 2
    assert "timed out" in str(caught.value)
    assert "not retried: part of the answer had already streamed" in str(caught.value)


def test_malformed_json_is_not_retried(server: FaultServer, tmp_path: Path) -> None:
    # The server would send the same bytes again (and bill them again): one attempt.
    server.push(Fault.malformed(), Fault.ok())
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError) as caught:
        llm.complete(MESSAGES, model="fault-model")
    assert "malformed response" in str(caught.value)
    assert (caught.value.attempts, caught.value.failure, caught.value.retryable) == (
        1,
        "decode",
        False,
    )
    assert len(server.requests) == 1


def test_a_stream_cut_midway_is_not_retried_once_tokens_were_shown(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(Fault.cut(after_chunks=2), Fault.ok())
    tokens: list[str] = []
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError) as caught:
        llm.complete(MESSAGES, model="fault-model", on_token=tokens.append)
    assert "connection failed" in str(caught.value)
    assert "already streamed" in str(caught.value)
    assert len(server.requests) == 1


def test_a_stream_cut_midway_is_retried_when_nothing_was_shown(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(Fault.cut(after_chunks=2), Fault.ok())
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model")
    assert (completion.text, completion.attempts) == (DEFAULT_TEXT, 2)


def test_connection_refused_is_an_llm_error(tmp_path: Path) -> None:
    with FaultServer() as gone:
        url = gone.url
    with (
        live_llm(url, tmp_path, NEONHUB_LLM_MAX_RETRIES="1") as llm,
        pytest.raises(LLMError, match=r"connection failed.*gave up after 2 attempt"),
    ):
        llm.complete(MESSAGES, model="fault-model")


def test_error_messages_never_contain_the_api_key(server: FaultServer, tmp_path: Path) -> None:
    key = "sk-live-key-0123456789abcdefghij"
    server.push(Fault.echo_auth())
    with (
        live_llm(server.url, tmp_path, OPENAI_API_KEY=key) as llm,
        pytest.raises(LLMError) as caught,
    ):
        llm.complete(MESSAGES, model="fault-model")
    assert server.headers[0]["authorization"] == f"Bearer {key}"  # the key was sent ...
    assert key not in str(caught.value)  # ... and is not in the message
    assert "[REDACTED]" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_base_url_credentials_never_appear_in_messages() -> None:
    assert endpoint_label("https://user:pw@gw.example:8443/v1/?k=1") == "https://gw.example:8443/v1"
    assert endpoint_label(None) == "https://api.openai.com/v1"


def test_an_error_in_on_token_is_the_callers_own(server: FaultServer, tmp_path: Path) -> None:
    def explode(_: str) -> None:
        raise KeyError("widget closed")

    with live_llm(server.url, tmp_path) as llm, pytest.raises(KeyError, match="widget closed"):
        llm.complete(MESSAGES, model="fault-model", on_token=explode)
    assert len(server.requests) == 1


def test_structured_output_request_and_parse(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.ok('{"title": "Hi", "score": 3}'))
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model", response_format=response_format)
    assert server.requests[0]["response_format"] == response_format
    assert completion.json() == {"title": "Hi", "score": 3}
    server.push(Fault.ok("not json"))
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError, match="not valid JSON"):
        llm.complete(MESSAGES, model="fault-model").json()


def test_client_side_rate_limit_waits_and_is_counted(server: FaultServer, tmp_path: Path) -> None:
    clock = SleepLog()
    with live_llm(server.url, tmp_path, clock) as llm:
        llm.limiter = RateLimiter(60, burst=1, clock=clock)
        first = llm.complete(MESSAGES, model="fault-model")
        second = llm.complete(MESSAGES, model="fault-model")
    assert (first.rate_limited, second.rate_limited) == (0, 1)
    assert clock.sleeps == [1.0]


def test_acomplete_streams_retries_and_runs_concurrently(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(Fault.status(502))
    clock = SleepLog()

    async def main() -> list[int]:
        with live_llm(server.url, tmp_path, clock) as llm:
            tokens: list[str] = []
            first = await llm.acomplete(MESSAGES, model="fault-model", on_token=tokens.append)
            assert "".join(tokens) == first.text == DEFAULT_TEXT
            rest = await asyncio.gather(
                *(llm.acomplete(MESSAGES, model="fault-model") for _ in range(8))
            )
            await llm.aclose()
            return [first.attempts, *(c.attempts for c in rest)]

    assert asyncio.run(main()) == [2] + [1] * 8
    assert len(clock.sleeps) == 1


def test_acomplete_works_across_event_loops(server: FaultServer, tmp_path: Path) -> None:
    # Notebooks and scripts may call asyncio.run more than once with one client.
    async def one_call(llm: OpenAILLM) -> str:
        try:
            return (await llm.acomplete(MESSAGES, model="fault-model")).text
        finally:
            await llm.aclose()  # the loop's connections close with it

    with live_llm(server.url, tmp_path) as llm:
        assert [asyncio.run(one_call(llm)) for _ in range(2)] == [DEFAULT_TEXT] * 2


def test_acomplete_gives_up_with_an_llm_error(server: FaultServer, tmp_path: Path) -> None:
    server.push(*[Fault.status(500)] * 3)

    async def call(llm: OpenAILLM) -> None:
        try:
            await llm.acomplete(MESSAGES, model="fault-model")
        finally:
            await llm.aclose()

    with (
        live_llm(server.url, tmp_path, NEONHUB_LLM_MAX_RETRIES="2") as llm,
        pytest.raises(LLMError, match="gave up after 3 attempt"),
    ):
        asyncio.run(call(llm))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "Thu, 01 Jan 2026 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, FakeClock().now()) == expected


def test_backoff_grows_and_is_capped() -> None:
    import random

    policy = ModelRetryPolicy(backoff_s=1.0, max_backoff_s=4.0)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in (1, 2, 3, 4, 5)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert all(2.0 <= d <= 4.0 for d in delays[2:])
