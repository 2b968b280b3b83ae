"""llama.cpp's llama-server. The real server (tests/test_live_model.py) backs its everyday
behaviour; the quirks of older builds still in use are scripted here."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

MODEL = "gemma-3-270m"


def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"finish_reason": finish, "index": 0, "delta": delta}], "created": 1,
            "id": "chatcmpl-ll", "model": MODEL, "system_fingerprint": "b1-a414a44",
            "object": "chat.completion.chunk"}  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    # The first chunk announces the role with "content": null, and [DONE] may come without
    # its closing blank line (https://github.com/darshi1337/apogee/pull/139,
    # https://github.com/ggml-org/llama.cpp/issues/14268).
    parts = sse(chunk({"role": "assistant", "content": None}), chunk({"content": "Hi "}),
                chunk({"content": "there"}), chunk({}, "stop"), blank_after_done=False)  # fmt: skip
    dialect.push(Reply.stream(parts))
    tokens: list[str] = []
    assert llm.complete(MESSAGES, model=MODEL, on_token=tokens.append).text == "Hi there"
    assert tokens == ["Hi ", "there"]


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # Builds through 2025 report a failure after the 200 as a non-standard `error:` field,
    # then data: [DONE] (https://github.com/ggml-org/llama.cpp/issues/14566,
    # https://github.com/ggml-org/llama.cpp/pull/16109): an error, not an empty success.
    parts = [b'error: {"code":400,"message":"the request exceeds the available context size. '
             b'try increasing the context size or enable context shift",'
             b'"type":"invalid_request_error"}\n\n', b"data: [DONE]\n\n"]  # fmt: skip
    dialect.push(Reply.stream(parts))
    with pytest.raises(LLMError, match="exceeds the available context size") as caught:
        llm.complete(MESSAGES, model=MODEL)
    assert (caught.value.status_code, caught.value.attempts) == (400, 1)


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # 503 while the model loads (https://github.com/mostlygeek/llama-swap/issues/146).
    loading = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    dialect.push(Reply.json(503, loading), Reply.stream(sse(chunk({"content": "Up"}, "stop"))))
    completion = llm.complete(MESSAGES, model=MODEL)
    assert (completion.text, completion.attempts, len(clock.sleeps)) == ("Up", 2, 1)
