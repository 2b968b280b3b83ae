"""LiteLLM proxy: one OpenAI-shaped front for many providers."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

MODEL = "claude-sonnet"


def chunk(content: str | None, finish: str | None = None) -> dict[str, object]:
    delta = {"content": content, "role": "assistant"} if content is not None else {}
    return {"id": "chatcmpl-l", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip


USAGE = {"id": "chatcmpl-l", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
         "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 4,
                                  "total_tokens": 34}}  # fmt: skip


def ok(text: str = "Proxied.", finish: str = "stop") -> Reply:
    return Reply.stream(sse(chunk(text), chunk(None, finish), USAGE))


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(ok("Through the proxy."))
    assert llm.complete(MESSAGES, model=MODEL).text == "Through the proxy."


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(ok())
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.prompt_tokens, completion.completion_tokens) == (30, 4)


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # An upstream error after the 200 is sent as data: {"error": ...} then [DONE]; read as an
    # empty success it would record a blank draft
    # (https://github.com/BerriAI/litellm/issues/40578). Here it is an error, and a [DONE]
    # with neither text nor finish_reason is no answer either.
    error = {"error": {"message": "litellm.APIConnectionError: upstream closed", "type": None,
                       "param": None, "code": "400"}}  # fmt: skip
    dialect.push(Reply.stream(sse(error)), *[Reply.stream(sse(chunk(None)))] * 4)
    with pytest.raises(LLMError, match="upstream closed"):
        llm.complete(MESSAGES, model=MODEL)
    with pytest.raises(LLMError, match="without an answer") as caught:
        llm.complete(MESSAGES, model=MODEL)
    # Like a cut stream, retried (vLLM ends failed generations the same way).
    assert (caught.value.failure, caught.value.attempts) == ("stream_cut", 4)


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A provider behind the proxy that does not take `seed`: 400 UnsupportedParamsError
    # naming it, code as a string (https://github.com/kaiko-ai/eva/issues/895,
    # https://github.com/BerriAI/litellm/pull/33738). Sent once more without seed; the
    # Completion says so, so the record never claims a seed the model did not get.
    refused = {"error": {"message": "litellm.UnsupportedParamsError: anthropic does not support "
                         "parameters: ['seed'], for model=claude-3-7-sonnet. To drop these, set "
                         "`litellm.drop_params=True`", "type": "invalid_request_error",
                         "param": None, "code": "400"}}  # fmt: skip
    dialect.push(Reply.json(400, refused), ok("Unseeded."))
    completion = llm.complete(MESSAGES, model=MODEL, seed=7)
    assert (completion.text, completion.omitted_fields) == ("Unseeded.", ("seed",))
    assert ["seed" in r for r in dialect.requests] == [True, False]


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # For streams the proxy sends its 200 before the upstream answers, so an upstream 429
    # arrives inside the stream (https://github.com/BerriAI/litellm/issues/9035), shaped by
    # the proxy's ProxyException.to_dict (code as a string).
    limited = {"error": {"message": "litellm.RateLimitError: AnthropicException - rate limited",
                         "type": "throttling_error", "param": None, "code": "429"}}  # fmt: skip
    dialect.push(Reply.stream(sse(limited)), ok("After the wait."))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.attempts, completion.rate_limited) == (
        "After the wait.", 2, 1)  # fmt: skip
    assert len(clock.sleeps) == 1
