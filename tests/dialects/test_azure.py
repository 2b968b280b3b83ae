"""Azure OpenAI: OpenAI's wire format with a content filter standing in the stream."""

from __future__ import annotations

import pytest

from neonhub_nb.errors import ContentFilteredError, LLMError
from neonhub_nb.llm.live import OpenAILLM

from ..live_support import MESSAGES, SleepLog
from .server import DialectServer, Reply, sse

SAFE = {name: {"filtered": False, "severity": "safe"}
        for name in ("hate", "self_harm", "sexual", "violence")}  # fmt: skip

# The first chunk has no choices, only the prompt's filter results, and empty id/model
# (https://github.com/AbanteAI/archive-old-cli-mentat/issues/429,
# https://github.com/langfuse/langfuse/issues/2833).
PROMPT_ANNOTATIONS = {"id": "", "choices": [], "created": 0, "model": "", "object": "",
                      "system_fingerprint": None,
                      "prompt_filter_results": [{"prompt_index": 0,
                                                 "content_filter_results": SAFE}]}  # fmt: skip


def chunk(
    content: str | None, finish: str | None = None, results: dict[str, object] = SAFE
) -> dict[str, object]:
    # Every choice carries its own content_filter_results (MS Learn, "Content filtering").
    delta = {} if content is None else {"content": content}
    return {"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                            "content_filter_results": results}]}  # fmt: skip


def answer(*pieces: str, finish: str = "stop", results: dict[str, object] = SAFE) -> Reply:
    return Reply.stream(sse(PROMPT_ANNOTATIONS, *(chunk(p) for p in pieces),
                            chunk(None, finish, results)))  # fmt: skip


def test_streaming(dialect: DialectServer, llm: OpenAILLM) -> None:
    dialect.push(answer("Private ", "endpoints ", "explained."))
    tokens: list[str] = []
    completion = llm.complete(MESSAGES, model="gpt-4o", on_token=tokens.append)
    assert completion.text == "Private endpoints explained." == "".join(tokens)
    assert completion.attempts == 1


def test_usage(dialect: DialectServer, llm: OpenAILLM) -> None:
    # API versions before stream_options answer 400 naming it
    # (https://github.com/openai/openai-python/issues/1469,
    # https://github.com/langchain-ai/langchain/pull/23552): sent once more without it,
    # remembered, and the usage is counted locally.
    refused = {
        "error": {
            "code": None,
            "message": "Unrecognized request argument supplied: stream_options",
            "param": None,
            "type": "invalid_request_error",
        }
    }
    dialect.push(Reply.json(400, refused), answer("Counted."), answer("Again."))
    first = llm.complete(MESSAGES, model="gpt-4o")
    second = llm.complete(MESSAGES, model="gpt-4o")
    assert (first.usage_source, first.omitted_fields, first.attempts) == (
        "counted", ("stream_options",), 2)  # fmt: skip
    assert second.attempts == 1
    assert ["stream_options" in r for r in dialect.requests] == [True, False, False]


def test_finish_reasons(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A completion stopped by the filter: finish_reason content_filter with the category.
    violent = {**SAFE, "violence": {"filtered": True, "severity": "medium"}}
    dialect.push(answer("# Ten ways to ", finish="content_filter", results=violent))
    tokens: list[str] = []
    with pytest.raises(ContentFilteredError) as caught:
        llm.complete(MESSAGES, model="gpt-4o", on_token=tokens.append)
    assert "filtered categories: violence (medium)" in str(caught.value)
    assert tokens == ["# Ten ways to "]
    assert len(dialect.requests) == 1


def test_errors(dialect: DialectServer, llm: OpenAILLM) -> None:
    # A filtered prompt is a 400 with code content_filter and the inner results
    # (https://github.com/openai/openai-dotnet/issues/55,
    # https://github.com/vibrantlabsai/ragas/issues/649).
    body = {"error": {"message": "The response was filtered due to the prompt triggering Azure "
                      "OpenAI's content management policy.", "type": None, "param": "prompt",
                      "code": "content_filter", "status": 400,
                      "innererror": {"code": "ResponsibleAIPolicyViolation",
                                     "content_filter_result": {**SAFE, "violence": {
                                         "filtered": True, "severity": "medium"}}}}}  # fmt: skip
    dialect.push(Reply.json(400, body))
    with pytest.raises(ContentFilteredError, match="filtered the prompt") as caught:
        llm.complete(MESSAGES, model="gpt-4o")
    assert (caught.value.status_code, caught.value.attempts) == (400, 1)


def test_retries(dialect: DialectServer, llm: OpenAILLM, clock: SleepLog) -> None:
    # 429 carries retry-after-ms next to retry-after; the milliseconds win
    # (https://github.com/openai/openai-python/issues/957). Message shape:
    # https://github.com/jasonacox/TinyLLM/issues/17
    def limited(seconds: int) -> dict[str, object]:
        return {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create "
                          "Operation under Azure OpenAI API version 2024-06-01 have exceeded "
                          f"token rate limit. Please retry after {seconds} seconds."}}  # fmt: skip

    headers = {"retry-after-ms": "1500", "retry-after": "2"}
    dialect.push(Reply.json(429, limited(2), headers=headers), answer("Done."))
    completion = llm.complete(MESSAGES, model="gpt-4o")
    assert (clock.sleeps, completion.rate_limited, completion.attempts) == ([1.5], 1, 2)
    # A quota reset a day away is not waited for: one clear error.
    dialect.push(Reply.json(429, limited(86400), headers={"retry-after": "86400"}))
    with pytest.raises(LLMError, match="asked to retry after 86400s") as caught:
        llm.complete(MESSAGES, model="gpt-4o")
    assert (caught.value.attempts, caught.value.rate_limited) == (1, 1)
