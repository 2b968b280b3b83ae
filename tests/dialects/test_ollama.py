"""Ollama's OpenAI compatibility endpoint (http://localhost:11434/v1)."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

MODEL = "llama3.2"


def chunk(content: str, finish: str | None = None) -> dict[str, object]:
    # "system_fingerprint": "fp_ollama" marks its answers
    # (https://github.com/ollama/ollama/pull/5312).
    return {"id": "chatcmpl-20", "object": "chat.completion.chunk", "created": 1,
            "model": MODEL, "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                         "finish_reason": finish}]}  # fmt: skip


USAGE = {"id": "chatcmpl-20", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
         "system_fingerprint": "fp_ollama", "choices": [],
         "usage": {"prompt_tokens": 23, "completion_tokens": 2, "total_tokens": 25}}  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(Reply.stream(sse(chunk("Local "), chunk("model"), chunk("", "stop"))))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.complete) == ("Local model", True)


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    # Before v0.5.2 stream_options is ignored and no usage is streamed
    # (https://github.com/ollama/ollama/issues/4448); since then a usage chunk comes
    # (https://github.com/ogx-ai/ogx/pull/5011). Counted locally, or taken from the server.
    dialect.push(Reply.stream(sse(chunk("Old "), chunk("server", "stop"))),
                 Reply.stream(sse(chunk("New "), chunk("server", "stop"), USAGE)))  # fmt: skip
    old, new = (llm.complete(MESSAGES, model=MODEL) for _ in range(2))
    assert (old.usage_source, new.usage_source, new.prompt_tokens) == ("counted", "response", 23)


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # max_tokens ends with "length" (https://github.com/ollama/ollama/pull/5312).
    dialect.push(Reply.stream(sse(chunk("Hello", "length"))))
    completion = llm.complete(MESSAGES, model=MODEL, max_tokens=1)
    assert (completion.finish_reason, completion.truncated) == ("length", True)


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A model that was never pulled (https://github.com/netease-youdao/QAnything/issues/555).
    body = {"error": {"message": 'model "llama3.2" not found, try pulling it first',
                      "type": "api_error", "param": None, "code": None}}  # fmt: skip
    dialect.push(Reply.json(404, body))
    with pytest.raises(LLMError, match=r'HTTP 404: model "llama3\.2" not found') as caught:
        llm.complete(MESSAGES, model=MODEL)
    assert (caught.value.attempts, caught.value.failure) == (1, "http")


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # A full queue answers 503 "server busy" (https://github.com/ollama/ollama/pull/4144).
    busy = {"error": {"message": "server busy, please try again.  maximum pending requests "
                      "exceeded", "type": "api_error", "param": None, "code": None}}  # fmt: skip
    dialect.push(Reply.json(503, busy), Reply.stream(sse(chunk("Back", "stop"))))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.attempts, len(clock.sleeps)) == ("Back", 2, 1)
