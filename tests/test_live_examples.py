"""The four examples of issue 17, each against a real server on 127.0.0.1.

1. a gateway that answers ``400 Unrecognized request argument supplied: stream_options``;
2. an answer that stops with ``finish_reason: content_filter`` after ``"# Ten ways to "``
   (and its neighbour, ``length``);
3. an emoji's surrogate pair split across two events, and UTF-8 split across reads;
4. a server that ignores ``stream: true`` and answers one ``application/json`` completion.

Each failed before the client learned the dialects (every live run failed; a filtered
draft succeeded; 4 billed attempts then "malformed response"; 4 billed attempts then
"ended after 0 chunk(s)"), and each is one test here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from neonhub_nb import DraftParams
from neonhub_nb.errors import LLMError
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.models import RunRequest
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.store import AuditStore

from .faultserver import Fault, FaultServer
from .live_support import MESSAGES, SleepLog, live_llm, live_settings

pytestmark = pytest.mark.usefixtures("fresh_live_state")

ROCKET = "\U0001f680"
REQUEST = RunRequest(
    intent="content.generate_article",
    params=DraftParams(topic="Dialects", primary_keyword="gateway", word_count=50).model_dump(),
)


def test_gateway_rejecting_stream_options(tmp_path: Path) -> None:
    with FaultServer(reject_fields=("stream_options",)) as gateway:
        with live_llm(gateway.url, tmp_path) as llm:
            first = llm.complete(MESSAGES, model="fault-model")
            second = llm.complete(MESSAGES, model="fault-model")

            async def third() -> str:
                try:
                    return (await llm.acomplete(MESSAGES, model="fault-model")).text
                finally:
                    await llm.aclose()

            assert asyncio.run(third()) == first.text
        sent = [("stream_options" in r) for r in gateway.requests]
        # Refused once, then sent without it; the client remembers for its endpoint.
        assert sent == [True, False, False, False]
        assert (first.attempts, second.attempts) == (2, 1)
        assert first.omitted_fields == second.omitted_fields == ("stream_options",)
        assert first.usage_source == "counted"  # no usage without stream_options

        # The setting leaves it out up front: not even one refused request.
        gateway.requests.clear()
        with live_llm(gateway.url, tmp_path, NEONHUB_LLM_OMIT_FIELDS="stream_options") as llm:
            assert llm.complete(MESSAGES, model="fault-model").attempts == 1
        assert ["stream_options" in r for r in gateway.requests] == [False]


def test_gateway_rejecting_stream_options_run_succeeds(tmp_path: Path) -> None:
    with FaultServer(reject_fields=("stream_options",)) as gateway:
        settings = live_settings(gateway.url, tmp_path)
        llm = OpenAILLM.from_settings(settings, clock=SleepLog())
        try:
            with AuditStore.from_settings(settings) as store:
                result = build_orchestrator(settings, store=store, llm=llm).run(REQUEST)
        finally:
            llm.close()
    assert result.status == "succeeded", result.error


def test_content_filter_after_partial_text(server: FaultServer, tmp_path: Path) -> None:
    from neonhub_nb.errors import ContentFilteredError

    server.push(Fault.ok("# Ten ways to ", finish="content_filter"))
    tokens: list[str] = []
    with live_llm(server.url, tmp_path) as llm, pytest.raises(ContentFilteredError) as caught:
        llm.complete(MESSAGES, model="fault-model", on_token=tokens.append)
    assert "".join(tokens) == "# Ten ways to "  # shown, but not a draft
    assert "the provider filtered the answer (finish_reason 'content_filter')" in str(caught.value)
    assert (caught.value.attempts, caught.value.retryable) == (1, False)
    assert caught.value.details()["failure"] == "filtered"
    assert len(server.requests) == 1  # never retried


def test_content_filter_after_partial_text_fails_the_run(
    server: FaultServer, tmp_path: Path
) -> None:
    server.push(Fault.ok("# Ten ways to ", finish="content_filter"))
    settings = live_settings(server.url, tmp_path)
    llm = OpenAILLM.from_settings(settings, clock=SleepLog())
    try:
        with AuditStore.from_settings(settings) as store:
            result = build_orchestrator(settings, store=store, llm=llm).run(REQUEST)
            drafts = store.sql("SELECT count(*) FROM content_drafts").iloc[0, 0]
            response = json.loads(
                store.sql("SELECT response FROM tool_executions WHERE tool = 'llm'").iloc[0, 0]
            )
    finally:
        llm.close()
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("ContentFilteredError: fault-model at")
    assert drafts == 0  # the cut-off text never enters the review queue
    assert (response["failure"], response["attempts"]) == ("filtered", 1)


def test_length_finish_is_a_truncated_answer(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.ok("# Ten ways to", finish="length"))
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model")
    assert (completion.text, completion.finish_reason) == ("# Ten ways to", "length")
    assert (completion.ending, completion.truncated, completion.complete) == (
        "truncated",
        True,
        False,
    )


def test_surrogate_pair_split_across_chunks(server: FaultServer, tmp_path: Path) -> None:
    # The JSON escapes exactly as the server wrote them: a high surrogate, then its partner.
    server.push(
        Fault.raw_events(
            '{"choices": [{"index": 0, "delta": {"content": "\\ud83d"}, "finish_reason": null}]}',
            '{"choices": [{"index": 0, "delta": {"content": "\\ude80 is here"}, '
            '"finish_reason": "stop"}]}',
        )
    )
    tokens: list[str] = []
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model", on_token=tokens.append)
    assert completion.text == f"{ROCKET} is here"
    assert tokens == [f"{ROCKET} is here"]  # never half an emoji on screen
    assert completion.attempts == 1
    assert len(server.requests) == 1


def test_surrogate_pair_split_across_chunks_utf8_split_across_reads(
    server: FaultServer, tmp_path: Path
) -> None:
    text = f"Café {ROCKET} ünïcödé — 日本語"
    server.push(Fault.ok(text, split_bytes=1), Fault.ok(text, split_bytes=3))
    with live_llm(server.url, tmp_path) as llm:
        one = llm.complete(MESSAGES, model="fault-model")
        three = llm.complete(MESSAGES, model="fault-model")
    assert one.text == three.text == text
    assert (one.attempts, three.attempts) == (1, 1)


def test_server_ignoring_stream_true(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.json_answer("A whole answer in one body.", finish="length"))
    tokens: list[str] = []
    with live_llm(server.url, tmp_path) as llm:
        completion = llm.complete(MESSAGES, model="fault-model", on_token=tokens.append)
    assert completion.text == "A whole answer in one body." == "".join(tokens)
    assert (completion.prompt_tokens, completion.completion_tokens) == (11, 6)
    assert (completion.usage_source, completion.finish_reason) == ("response", "length")
    assert (completion.streamed, completion.truncated, completion.attempts) == (False, True, 1)
    assert len(server.requests) == 1


def test_server_ignoring_stream_true_async(server: FaultServer, tmp_path: Path) -> None:
    server.push(Fault.json_answer("Async whole."))

    async def call(llm: OpenAILLM) -> tuple[str, bool]:
        try:
            completion = await llm.acomplete(MESSAGES, model="fault-model")
            return completion.text, completion.streamed
        finally:
            await llm.aclose()

    with live_llm(server.url, tmp_path) as llm:
        assert asyncio.run(call(llm)) == ("Async whole.", False)


def test_server_ignoring_stream_true_with_an_error_body(
    server: FaultServer, tmp_path: Path
) -> None:
    # A 200 whose JSON body is an error, not a completion: said once, not retried 4 times.
    server.push(Fault.status(200, body={"unexpected": "shape"}))
    with live_llm(server.url, tmp_path) as llm, pytest.raises(LLMError) as caught:
        llm.complete(MESSAGES, model="fault-model")
    assert "a JSON body without 'choices' (keys: unexpected)" in str(caught.value)
    assert caught.value.attempts == 1
