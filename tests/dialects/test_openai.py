"""OpenAI itself (api.openai.com): the reference every other dialect imitates.

Shapes from the API reference (https://platform.openai.com/docs/api-reference/chat/create,
whose stream_options text is quoted in https://github.com/openai/openai-openapi/pull/248).
"""

from __future__ import annotations

import pytest

from neonhub_nb.errors import ContentFilteredError, IncompleteAnswerError, LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}


def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    # Every chunk carries "usage": null once include_usage is asked for (API reference).
    return {**BASE, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}], "usage": None}  # fmt: skip


USAGE = {**BASE, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3,
                                          "total_tokens": 15}}  # fmt: skip


def answer(*pieces: str, finish: str = "stop") -> Reply:
    return Reply.stream(sse(chunk({"role": "assistant", "content": ""}),
                            *(chunk({"content": p}) for p in pieces),
                            chunk({}, finish), USAGE))  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(answer("Hello", ", ", "world"))
    tokens: list[str] = []
    completion = llm.complete(MESSAGES, model="gpt-4o-mini", on_token=tokens.append)
    assert tokens == ["Hello", ", ", "world"]  # the empty role chunk shows nothing
    assert (completion.text, completion.complete, completion.streamed) == ("Hello, world",
                                                                           True, True)  # fmt: skip
    assert dialect.requests[0]["stream_options"] == {"include_usage": True}


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    # The usage chunk has "choices": [] and comes just before [DONE].
    dialect.push(answer("Hi"))
    completion = llm.complete(MESSAGES, model="gpt-4o-mini")
    assert (completion.prompt_tokens, completion.completion_tokens) == (12, 3)
    assert completion.usage_source == "response"


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # stop, length, content_filter, tool_calls, function_call (deprecated): API reference.
    dialect.push(answer("cut", finish="length"), answer("# Ten ways to ", finish="content_filter"),
                 answer("", finish="tool_calls"))  # fmt: skip
    assert llm.complete(MESSAGES, model="gpt-4o-mini").truncated
    with pytest.raises(ContentFilteredError):
        llm.complete(MESSAGES, model="gpt-4o-mini")
    with pytest.raises(IncompleteAnswerError, match="asked to call a tool"):
        llm.complete(MESSAGES, model="gpt-4o-mini")
    assert len(dialect.requests) == 3  # none of them retried


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A 429 that is out of credit, not a rate limit: retrying cannot help
    # (https://github.com/langchain-ai/langchainjs/issues/1929).
    quota = {"error": {"message": "You exceeded your current quota, please check your plan "
                       "and billing details.", "type": "insufficient_quota", "param": None,
                       "code": "insufficient_quota"}}  # fmt: skip
    dialect.push(Reply.json(429, quota))
    with pytest.raises(LLMError, match="HTTP 429: You exceeded your current quota") as caught:
        llm.complete(MESSAGES, model="gpt-4o-mini")
    assert (caught.value.failure, caught.value.attempts) == ("quota", 1)
    auth = {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                      "param": None, "code": "invalid_api_key"}}  # fmt: skip
    dialect.push(Reply.json(401, auth))
    with pytest.raises(LLMError, match="HTTP 401: Incorrect API key") as caught:
        llm.complete(MESSAGES, model="gpt-4o-mini")
    assert (caught.value.retryable, len(dialect.requests)) == (False, 2)


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # OpenAI's own SDK retries 408, 409, 429 and >= 500 (https://github.com/openai/openai-python
    # README, "Retries"); a 429 body names the limit (https://github.com/openai/openai-dotnet/issues/404).
    limited = {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini on requests per min.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    server_error = {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    dialect.push(Reply.json(429, limited, headers={"retry-after": "2"}),
                 Reply.json(500, server_error), answer("ok"))  # fmt: skip
    completion = llm.complete(MESSAGES, model="gpt-4o-mini")
    assert (completion.text, completion.attempts, completion.rate_limited) == ("ok", 3, 1)
    assert clock.sleeps[0] == 2.0 and 0.5 <= clock.sleeps[1] <= 1.0
    assert completion.retry_wait_s == pytest.approx(sum(clock.sleeps))
