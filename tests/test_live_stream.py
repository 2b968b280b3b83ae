"""Parsing a chat completion event stream, line by line, without a server."""

from __future__ import annotations

import json

import pytest

from neonhub_nb.chatstream import CallbackError, ChatStream, StreamCutError, StreamEventError

MESSAGES = [{"role": "user", "content": "Hello there"}]


def chunk(content: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {"content": content} if content is not None else {}
    payload = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return "data: " + json.dumps(payload)


def feed(stream: ChatStream, *lines: str) -> None:
    for line in lines:
        stream.feed(line)
    stream.end()


def test_text_finish_and_usage() -> None:
    tokens: list[str] = []
    stream = ChatStream("m", MESSAGES, tokens.append)
    stream.start_attempt(0.0)
    usage = {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}
    feed(stream, chunk("Hi"), "", ": keep-alive", "", chunk(" you", "stop"), "",
         "data: " + json.dumps(usage), "", "data: [DONE]", "", chunk("ignored"), "")  # fmt: skip
    result = stream.result()
    assert (result.text, result.finish_reason, tokens) == ("Hi you", "stop", ["Hi", " you"])
    usage_seen = (result.prompt_tokens, result.completion_tokens, result.usage_source)
    assert usage_seen == (4, 2, "response")
    assert stream.emitted == 2


def test_data_split_over_lines_and_a_last_event_without_a_blank_line() -> None:
    stream = ChatStream("m", MESSAGES, None)
    stream.start_attempt(0.0)
    body = json.dumps({"choices": [{"delta": {"content": "x"}, "finish_reason": "length"}]})
    half = len(body) // 2
    feed(stream, "event: message", f"data: {body[:half]}", f"data:{body[half:]}")
    result = stream.result()
    assert (result.text, result.finish_reason, result.usage_source) == ("x", "length", "counted")
    assert stream.emitted == 0  # nothing was shown: a retry would be safe


def test_no_finish_reason_means_the_stream_was_cut() -> None:
    stream = ChatStream("m", MESSAGES, None)
    stream.start_attempt(0.0)
    feed(stream, chunk("partial"), "")
    with pytest.raises(StreamCutError, match="after 1 chunk"):
        stream.result()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("data: {oops", ValueError),
        ("data: [1, 2]", ValueError),
        ('data: {"choices": {"a": 1}}', ValueError),
        ('data: {"error": {"message": "upstream overloaded"}}', StreamEventError),
    ],
)
def test_bad_events(line: str, error: type[Exception]) -> None:
    stream = ChatStream("m", MESSAGES, None)
    stream.start_attempt(0.0)
    with pytest.raises(error):
        feed(stream, line, "")


def test_a_failing_callback_is_wrapped_with_its_cause() -> None:
    def boom(_: str) -> None:
        raise RuntimeError("display gone")

    stream = ChatStream("m", MESSAGES, boom)
    stream.start_attempt(0.0)
    with pytest.raises(CallbackError) as caught:
        feed(stream, chunk("x"), "")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_each_attempt_starts_clean_and_waits_count_as_rate_limited() -> None:
    stream = ChatStream("m", MESSAGES, None)
    stream.start_attempt(0.0)
    feed(stream, chunk("old"), "")
    stream.start_attempt(1.5)
    feed(stream, chunk("new", "stop"), "")
    result = stream.result()
    assert (result.text, result.attempts, result.rate_limited) == ("new", 2, 1)


@pytest.mark.parametrize(
    "name", ["guard.breaker", "guard.budget", "chatstream", "live", "ratelimit", "guard.runguard"]
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
