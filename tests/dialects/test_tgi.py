"""Hugging Face text-generation-inference, Messages API
(https://huggingface.co/docs/text-generation-inference/messages_api)."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

MODEL = "tgi"


def chunk(content: str, finish: str | None = None) -> dict[str, object]:
    return {"object": "chat.completion.chunk", "id": "", "created": 1, "model": MODEL,
            "system_fingerprint": "2.0.4-sha-f426a33",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish}]}  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    # Before 2.2 the chat stream ended without data: [DONE]
    # (https://github.com/huggingface/text-generation-inference/pull/2221): the finish
    # reason alone ends the answer.
    dialect.push(Reply.stream(sse(chunk("Deep "), chunk("learning", "eos_token"), done=False)))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.attempts) == ("Deep learning", 1)


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    # No usage in streams (https://github.com/huggingface/text-generation-inference/issues/2531):
    # counted locally, and the record says so.
    dialect.push(Reply.stream(sse(chunk("Counted", "eos_token"))))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert completion.usage_source == "counted" and completion.completion_tokens > 0


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # eos_token and stop_sequence are TGI's words for a natural stop
    # (https://github.com/huggingface/text-generation-inference/issues/1724,
    # https://github.com/huggingface/huggingface.js/pull/537).
    dialect.push(Reply.stream(sse(chunk("A", "eos_token"))),
                 Reply.stream(sse(chunk("B", "stop_sequence"))),
                 Reply.stream(sse(chunk("C", "length"))))  # fmt: skip
    endings = [llm.complete(MESSAGES, model=MODEL).ending for _ in range(3)]
    assert endings == ["complete", "complete", "truncated"]


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # Validation errors: {"error": "...", "error_type": "validation"}, as a 422
    # (https://github.com/huggingface/transformers/issues/28523) or, when streaming, as an
    # event after a 200 (https://github.com/huggingface/huggingface_hub/pull/2558).
    text = ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. "
            "Given: 5 `inputs` tokens and 4091 `max_new_tokens`")  # fmt: skip
    dialect.push(Reply.json(422, {"error": text, "error_type": "validation"}),
                 Reply.stream(sse({"error": text, "error_type": "validation"})))  # fmt: skip
    for _ in range(2):
        with pytest.raises(LLMError, match="Input validation error") as caught:
            llm.complete(MESSAGES, model=MODEL)
        assert (caught.value.status_code, caught.value.retryable) == (422, False)
    assert len(dialect.requests) == 2


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # An overloaded router answers 429 {"error_type": "overloaded"} (router/src/server.rs).
    busy = {"error": "Model is overloaded", "error_type": "overloaded"}
    dialect.push(Reply.json(429, busy), Reply.stream(sse(chunk("Served", "eos_token"))))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.attempts, completion.rate_limited) == ("Served", 2, 1)
    assert len(clock.sleeps) == 1
