"""vLLM's OpenAI-compatible server."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import IncompleteAnswerError, LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES
from .server import DialectServer, Reply, sse

MODEL = "Qwen/Qwen3-8B"


def chunk(content: str | None, finish: str | None = None, **extra: object) -> dict[str, object]:
    delta = {"role": "assistant", "content": content} if content is not None else {}
    # vLLM adds stop_reason (the matched stop string or token id) beside finish_reason
    # (https://github.com/vllm-project/vllm/pull/2976).
    return {"id": "chatcmpl-v", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish,
                         "stop_reason": None}], **extra}  # fmt: skip


# The usage-only chunk may come with "choices": null
# (https://docs.rs/openai-interface/0.12.0/src/openai_interface/chat/create/response.rs.html).
USAGE = {"id": "chatcmpl-v", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
         "choices": None, "usage": {"prompt_tokens": 20, "completion_tokens": 2,
                                    "total_tokens": 22}}  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(Reply.stream(sse(chunk("Fast "), chunk("tokens"), chunk(None, "stop"), USAGE)))
    assert llm.complete(MESSAGES, model=MODEL).text == "Fast tokens"


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(Reply.stream(sse(chunk("x"), chunk(None, "stop"), USAGE)))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.prompt_tokens, completion.usage_source) == (20, "response")


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # An engine abort ends the stream with finish_reason "abort", then [DONE]
    # (https://github.com/vllm-project/vllm/issues/57082): no answer. Retried while nothing
    # was shown; reported as incomplete once part of it was.
    aborted = Reply.stream(sse(chunk("Half "), chunk(None, "abort")))
    dialect.push(aborted, Reply.stream(sse(chunk("Whole"), chunk(None, "stop"), USAGE)), aborted)
    assert llm.complete(MESSAGES, model=MODEL).attempts == 2
    with pytest.raises(IncompleteAnswerError, match="aborted the generation") as caught:
        llm.complete(MESSAGES, model=MODEL, on_token=lambda _: None)
    assert "already streamed" in str(caught.value)


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # Errors are top-level objects, not nested under "error"
    # (https://github.com/vllm-project/vllm/issues/3906).
    too_long = {"object": "error", "message": "This model's maximum context length is 8192 "
                "tokens. However, you requested 9000 tokens.", "type": "BadRequestError",
                "param": None, "code": 400}  # fmt: skip
    dialect.push(Reply.json(400, too_long))
    with pytest.raises(LLMError, match="HTTP 400: This model's maximum context length") as caught:
        llm.complete(MESSAGES, model=MODEL)
    assert caught.value.attempts == 1


def test_retries(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A failure after the 200 arrives as data: {"error": {...}} then [DONE]
    # (vllm/entrypoints/openai/serving_engine.py create_streaming_error_response;
    # https://github.com/vllm-project/vllm/pull/40986): a 5xx code is retried, a 4xx is not.
    def failing(code: int) -> Reply:
        error = {"error": {"object": "error", "message": "engine failed", "type": "Error",
                           "param": None, "code": code}}  # fmt: skip
        return Reply.stream(sse(error))

    dialect.push(failing(500), Reply.stream(sse(chunk("ok"), chunk(None, "stop"), USAGE)))
    assert llm.complete(MESSAGES, model=MODEL).attempts == 2
    dialect.push(failing(400))
    with pytest.raises(LLMError, match=r"error in the stream \(code 400\)") as caught:
        llm.complete(MESSAGES, model=MODEL)
    assert (caught.value.attempts, caught.value.retryable) == (1, False)
