"""Decoding a chat completion answer from raw bytes, without a server."""

from __future__ import annotations

import json

import pytest

from neonhub_nb.llm.stream import (
    FINISH_MEANINGS,
    CallbackError,
    ChatStream,
    FinishError,
    MalformedAnswerError,
    StreamCutError,
    StreamEventError,
    finish_meaning,
)

MESSAGES = [{"role": "user", "content": "Hello there"}]


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {"content": content} if content is not None else {}
    payload = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return "data: " + json.dumps(payload)


def stream_of(tokens: list[str] | None = None) -> ChatStream:
    stream = ChatStream("m", MESSAGES, tokens.append if tokens is not None else None)
    stream.start_attempt(0.0)
    return stream


def feed(stream: ChatStream, *lines: str) -> None:
    for line in lines:
        stream.feed(line.encode() + b"\n")
    stream.end()


def test_text_finish_and_usage() -> None:
    tokens: list[str] = []
    stream = stream_of(tokens)
    usage = {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}
    feed(stream, chunk("Hi"), "", ": keep-alive", "", chunk(" you", "stop"), "",
         "data: " + json.dumps(usage), "", "data: [DONE]", "", chunk("ignored"), "")  # fmt: skip
    result = stream.result()
    assert (result.text, result.finish_reason, tokens) == ("Hi you", "stop", ["Hi", " you"])
    usage_seen = (result.prompt_tokens, result.completion_tokens, result.usage_source)
    assert usage_seen == (4, 2, "response")
    assert (result.ending, result.complete, result.streamed) == ("complete", True, True)
    assert stream.emitted == 2


def test_data_split_over_lines_and_a_last_event_without_a_blank_line() -> None:
    stream = stream_of()
    body = json.dumps({"choices": [{"delta": {"content": "x"}, "finish_reason": "length"}]})
    half = len(body) // 2
    feed(stream, "event: message", f"data: {body[:half]}", f"data:{body[half:]}")
    result = stream.result()
    assert (result.text, result.finish_reason, result.usage_source) == ("x", "length", "counted")
    assert (result.ending, result.truncated, result.complete) == ("truncated", True, False)
    assert stream.emitted == 0  # nothing was shown: a retry would be safe


def test_every_split_of_the_bytes_decodes_the_same() -> None:
    # Multi-byte UTF-8 (é, 🚀) and CRLF line ends, cut at every possible byte offset.
    body = (
        chunk("Café ") + "\r\n\r\n" + chunk("🚀 launch", "stop") + "\r\n\r\ndata: [DONE]\r\n\r\n"
    ).encode()
    for cut in range(1, len(body)):
        stream = stream_of()
        stream.feed(body[:cut])
        stream.feed(body[cut:])
        stream.end()
        assert stream.result().text == "Café 🚀 launch", cut


def test_a_surrogate_pair_split_across_events_is_joined_and_held_back() -> None:
    tokens: list[str] = []
    stream = stream_of(tokens)
    stream.feed(b'data: {"choices":[{"delta":{"content":"Go \\ud83d"}}]}\n\n')
    assert tokens == ["Go "]  # the half emoji is not shown
    second = b'data: {"choices":[{"delta":{"content":"\\ude80 now"},"finish_reason":"stop"}]}'
    stream.feed(second + b"\n\n")
    stream.end()
    assert tokens == ["Go ", "\U0001f680 now"]
    assert stream.result().text == "Go \U0001f680 now"


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    stream = stream_of()
    feed(stream, 'data: {"choices":[{"delta":{"content":"a\\ud83d"},"finish_reason":"stop"}]}')
    assert stream.result().text == "a\ufffd"
    stream = stream_of()
    feed(stream, 'data: {"choices":[{"delta":{"content":"\\ude80b"},"finish_reason":"stop"}]}')
    assert stream.result().text == "\ufffdb"


def test_a_json_body_instead_of_a_stream_is_taken_whole() -> None:
    tokens: list[str] = []
    stream = stream_of(tokens)
    body = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1},
    }  # fmt: skip
    raw = json.dumps(body).encode()
    stream.feed(raw[:10])
    stream.feed(raw[10:])
    stream.end()
    result = stream.result()
    assert (result.text, result.streamed, result.prompt_tokens, tokens) == ("Whole", False, 9,
                                                                            ["Whole"])  # fmt: skip


def test_no_finish_reason_means_the_stream_was_cut() -> None:
    stream = stream_of()
    feed(stream, chunk("partial"), "")
    with pytest.raises(StreamCutError, match="after 1 chunk"):
        stream.result()


def test_done_without_a_finish_reason() -> None:
    stream = stream_of()
    feed(stream, chunk("kept"), "", "data: [DONE]", "")
    result = stream.result()
    assert (result.text, result.finish_reason, result.ending) == ("kept", None, "unknown")
    stream = stream_of()
    feed(stream, "data: [DONE]", "")
    with pytest.raises(StreamCutError, match="without an answer"):
        stream.result()


@pytest.mark.parametrize(
    ("reason", "meaning"),
    [("content_filter", "filtered"), ("tool_calls", "tool_call"),
     ("function_call", "tool_call"), ("abort", "aborted")],
)  # fmt: skip
def test_finishes_without_an_answer_raise(reason: str, meaning: str) -> None:
    stream = stream_of()
    feed(stream, chunk("# Ten ways to ", reason), "")
    with pytest.raises(FinishError) as caught:
        stream.result()
    assert (caught.value.meaning, caught.value.reason) == (meaning, reason)


def test_every_finish_reason_has_a_meaning() -> None:
    assert finish_meaning(None) == finish_meaning("something_new") == "unknown"
    for reason in ("stop", "eos_token", "eos", "stop_sequence", "end"):
        assert FINISH_MEANINGS[reason] == "complete"
    assert FINISH_MEANINGS["length"] == "truncated"
    stream = stream_of()
    feed(stream, chunk("text", "something_new"), "")
    assert stream.result().ending == "unknown"


@pytest.mark.parametrize(
    ("line", "error", "status"),
    [
        ("data: {oops", MalformedAnswerError, None),
        ("data: [1, 2]", MalformedAnswerError, None),
        ('data: {"choices": {"a": 1}}', MalformedAnswerError, None),
        ('data: {"error": {"message": "upstream overloaded"}}', StreamEventError, None),
        ('data: {"error": {"message": "x", "code": "429"}}', StreamEventError, 429),
        ('data: {"error": "Input validation error", "error_type": "validation"}',
         StreamEventError, 422),
        ('error: {"code": 400, "message": "exceeds the context size"}', StreamEventError, 400),
    ],
)  # fmt: skip
def test_bad_events(line: str, error: type[Exception], status: int | None) -> None:
    stream = stream_of()
    with pytest.raises(error) as caught:
        feed(stream, line, "")
    assert getattr(caught.value, "status", None) == status


def test_a_body_that_is_no_answer_at_all() -> None:
    stream = stream_of()
    stream.content_type = "text/html"
    with pytest.raises(MalformedAnswerError, match="answered text/html"):
        feed(stream, "<html><body>Bad gateway</body></html>")


def test_a_failing_callback_is_wrapped_with_its_cause() -> None:
    def boom(_: str) -> None:
        raise RuntimeError("display gone")

    stream = ChatStream("m", MESSAGES, boom)
    stream.start_attempt(0.0)
    with pytest.raises(CallbackError) as caught:
        feed(stream, chunk("x"), "")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_each_attempt_starts_clean_and_waits_count_as_rate_limited() -> None:
    stream = stream_of()
    feed(stream, chunk("old"), "")
    stream.start_attempt(1.5)
    feed(stream, chunk("new", "stop"), "")
    result = stream.result()
    assert (result.text, result.attempts, result.rate_limited) == ("new", 2, 1)


@pytest.mark.parametrize(
    "name",
    [
        "guard.breaker",
        "guard.budget",
        "llm.stream",
        "llm.live",
        "llm.retry",
        "llm.ratelimit",
        "guard.runguard",
    ],
)
def test_live_mode_modules_export_every_public_name(name: str) -> None:
    import importlib
    import inspect

    module = importlib.import_module(f"neonhub_nb.{name}")
    exported = set(module.__all__)
    defined = {
        attr
        for attr, obj in vars(module).items()
        if (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
        and not attr.startswith("_")
    }
    assert defined <= exported  # (type aliases are exported too)
    assert all(hasattr(module, attr) for attr in exported)


def test_a_completion_built_elsewhere_derives_its_ending() -> None:
    # Mock and replay build Completions from a finish_reason alone; they say the same.
    from neonhub_nb.llm import Completion

    assert Completion("t", "m", 1, 1).ending == "complete"
    assert Completion("t", "m", 1, 1, finish_reason="length").truncated
    assert Completion("t", "m", 1, 1, finish_reason=None).ending == "unknown"
    assert Completion("t", "m", 1, 1, finish_reason="eos_token").complete
