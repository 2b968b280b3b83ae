"""Reading a chat completion answer: bytes in, one :class:`~neonhub_nb.llm.Completion` out.

The SDK sends the request and maps HTTP errors; the answer itself is parsed here, from the
raw bytes of the body, with orjson. Real servers stream one chunk per token, and the SDK's
per-chunk pydantic models cost more CPU than everything else in a run
(``bench/bench_throughput.py``), so plain dicts are what lets 32 drafts in flight keep up.

What servers really send, and what this module does with it:

- Server-sent events split anywhere by the network. Lines are cut at ``\\n`` *bytes* and
  each complete line is decoded on its own, so a UTF-8 character split across two reads
  is whole again before anything decodes it (a continuation byte is never ``\\n``).
- An emoji's UTF-16 surrogate pair split across two events (``"\\ud83d"`` then
  ``"\\ude80..."``): orjson refuses a lone surrogate, so such an event is decoded by the
  standard library instead, the high half is held back (from ``on_token`` too) until its
  partner arrives, and a half that never finds one becomes U+FFFD.
- One ``application/json`` chat completion instead of a stream (a server that ignores
  ``stream: true``): taken whole, text, usage and finish reason included.
- Errors inside a stream that started fine: ``data: {"error": ...}`` (OpenAI, vLLM,
  LiteLLM, TGI) and llama.cpp's older ``error: {...}`` field.
- Every ``finish_reason`` has a meaning (:data:`FINISH_MEANINGS`); see :meth:`result`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from . import (
    FINISH_MEANINGS,
    Completion,
    Ending,
    FinishMeaning,
    Messages,
    TokenCallback,
    finish_meaning,
)
from .tokens import count_message_tokens, count_tokens

__all__ = [
    "FINISH_MEANINGS",
    "CallbackError",
    "ChatStream",
    "FinishError",
    "FinishMeaning",
    "MalformedAnswerError",
    "StreamCutError",
    "StreamEventError",
    "finish_meaning",
]

_ENDINGS: dict[FinishMeaning, Ending] = {
    "complete": "complete",
    "truncated": "truncated",
    "unknown": "unknown",
}
_HIGH_SURROGATES = ("\ud800", "\udbff")


class StreamCutError(Exception):
    """The answer ended before the model said why it stopped (retried if nothing showed)."""


class StreamEventError(Exception):
    """The server reported an error inside an answer that had started fine.

    ``status`` is the HTTP-like code the event carries (``error.code``, or TGI's
    ``error_type``), when it carries one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class MalformedAnswerError(ValueError):
    """The body is not a chat completion (bad JSON, HTML, ...): retrying sends it again."""


class FinishError(Exception):
    """The model finished without a usable answer: filtered, a tool call, or aborted."""

    def __init__(self, meaning: FinishMeaning, reason: str, detail: str = "") -> None:
        self.meaning = meaning
        self.reason = reason
        self.detail = detail
        super().__init__(f"finish_reason {reason!r}{detail}")


class CallbackError(Exception):
    """``on_token`` raised: the caller's own error (``__cause__``), never retried."""


# TGI reports errors as {"error": "...", "error_type": "validation"}, inside a stream too
# (https://github.com/huggingface/huggingface_hub/pull/2558); its router answers these types
# with these statuses (router/src/server.rs, `impl From<InferError> for (StatusCode, ...)`).
_TGI_ERROR_STATUS = {
    "validation": 422,
    "overloaded": 429,
    "generation": 424,
    "incomplete_generation": 500,
}


def _event_error(error: object, payload: dict[str, Any]) -> StreamEventError:
    message: object = error
    status: object = None
    if isinstance(error, dict):
        message = error.get("message") or error.get("error")
        status = error.get("code") or error.get("status")
    if status is None:
        status = _TGI_ERROR_STATUS.get(str(payload.get("error_type")))
    number = int(status) if isinstance(status, int | str) and str(status).isdigit() else None
    return StreamEventError(str(message or "an error occurred during streaming"), number)


def _filtered_categories(choice: dict[str, Any]) -> str:
    """Azure's per-choice ``content_filter_results``: which categories were filtered."""
    results = choice.get("content_filter_results")
    if not isinstance(results, dict):
        return ""
    hits = [
        f"{name} ({value.get('severity', 'filtered')})"
        for name, value in results.items()
        if isinstance(value, dict) and value.get("filtered")
    ]
    return f"; filtered categories: {', '.join(hits)}" if hits else ""


@dataclass
class ChatStream:
    """One logical call across its attempts: feed it bytes, ask it for the result."""

    model: str
    messages: Messages
    on_token: TokenCallback | None
    attempts: int = 0
    rate_limited: int = 0
    retry_wait_s: float = 0.0
    emitted: int = 0  # pieces already handed to on_token (a retry would repeat them)
    omitted_fields: tuple[str, ...] = ()  # optional request fields left out
    sent_optional: tuple[str, ...] = ()  # optional request fields sent
    chunks: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    finish: str | None = None
    finish_detail: str = ""
    done: bool = False
    streamed: bool = True
    content_type: str = ""
    _buffer: bytes = b""
    _data: list[bytes] = field(default_factory=list)
    _error_field: bytes | None = None
    _mode: Literal["", "sse", "json"] = ""
    _fields_seen: int = 0
    _pending_high: str = ""
    _surrogates: bool = False  # an event needed the slow decoder: pair surrogates up
    _skip_lf: bool = False

    def start_attempt(self, waited: float) -> None:
        """A new HTTP attempt; ``waited`` > 0 means a client-side rate limit held it back."""
        self.attempts += 1
        if waited > 0:
            self.rate_limited += 1
        self.chunks, self.usage, self.finish, self.finish_detail = [], None, None, ""
        self.done, self.streamed, self.content_type = False, True, ""
        self._buffer, self._data, self._error_field = b"", [], None
        self._mode, self._fields_seen, self._pending_high, self._skip_lf = "", 0, "", False
        self._surrogates = False

    def count_wait(self, seconds: float) -> None:
        """A wait before the next attempt (backoff or Retry-After), for the record."""
        self.retry_wait_s += seconds

    # ----------------------------------------------------------------- input
    def feed(self, data: bytes) -> None:
        """One network read of the body (any split: mid-line, mid-character)."""
        if not data:
            return
        if not self._mode:
            head = data.lstrip()
            if not head:
                return
            self._mode = "json" if head[:1] in (b"{", b"[") else "sse"
        if self._mode == "json":
            self._buffer += data
            return
        if self._skip_lf and data[:1] == b"\n":  # the \n of a \r\n split across reads
            data = data[1:]
        self._skip_lf = data[-1:] == b"\r"
        if b"\r" in data:  # SSE also ends lines with \r\n or a lone \r
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = (self._buffer + data if self._buffer else data).split(b"\n")
        self._buffer = lines.pop()
        for line in lines:
            if line[:6] == b"data: " and not self.done:  # nearly every line: the fast path
                self._fields_seen += 1
                self._data.append(line[6:])
            else:
                self._line(line)

    def end(self) -> None:
        """The body ended: parse what is left (an event without its closing blank line
        still counts; a JSON body is parsed now)."""
        if self._mode == "json":
            self._whole(self._buffer)
            return
        if self._buffer:
            self._line(self._buffer)
            self._buffer = b""
        self._dispatch()
        if self._mode == "sse" and not self._fields_seen:
            raise MalformedAnswerError(
                f"the server answered {self.content_type or 'an unknown content type'}, "
                "which is neither an event stream nor a JSON chat completion"
            )

    def _line(self, line: bytes) -> None:
        if self.done:  # anything after [DONE] is not part of the answer
            return
        if not line:
            self._dispatch()
            return
        if line[:1] == b":":  # an SSE comment (keep-alive)
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._fields_seen += 1
            self._data.append(value)
        elif name == b"error":
            # Older llama.cpp servers send `error: {...}` instead of a data event:
            # https://github.com/ggml-org/llama.cpp/pull/16109
            self._fields_seen += 1
            self._error_field = value
        elif name in (b"event", b"id", b"retry"):
            self._fields_seen += 1

    def _dispatch(self) -> None:
        if self._error_field is not None:
            raw, self._error_field = self._error_field, None
            raise _event_error(self._loads(raw), {})
        if not self._data:
            return
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if data.startswith(b"[DONE]"):
            self.done = True
            return
        payload = self._loads(data)
        if not isinstance(payload, dict):
            raise MalformedAnswerError(f"expected a JSON object, got {type(payload).__name__}")
        if payload.get("error"):
            raise _event_error(payload["error"], payload)
        self._take(payload)

    def _loads(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if "surrogate" not in str(exc):
                raise MalformedAnswerError(f"not JSON ({exc})") from None
        # orjson refuses lone UTF-16 surrogates; the standard library keeps them, and
        # _text() pairs them up across events.
        self._surrogates = True
        try:
            return json.loads(data)
        except ValueError as exc:
            raise MalformedAnswerError(f"not JSON ({exc})") from None

    # ------------------------------------------------------------ the answer
    def _take(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = payload.get("choices") or []  # [] and null: Azure's and vLLM's extra chunks
        if not isinstance(choices, list):
            raise MalformedAnswerError("'choices' is not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise MalformedAnswerError("a choice is not an object")
            delta = choice.get("delta") or choice.get("message") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece:
                self._text(str(piece))
            reason = choice.get("finish_reason")
            if reason:
                self.finish = str(reason)
                self.finish_detail = _filtered_categories(choice)

    def _text(self, piece: str) -> None:
        if self._surrogates:  # orjson never yields a lone surrogate: only after _loads' slow path
            piece = self._pair_surrogates(piece)
            if not piece:
                return
        self.chunks.append(piece)
        if self.on_token is not None:
            self.emitted += 1
            try:
                self.on_token(piece)
            except Exception as exc:
                raise CallbackError() from exc

    def _pair_surrogates(self, piece: str) -> str:
        """Join a high surrogate held back from the last piece with this one; hold back a
        trailing one; turn any surrogate that still has no partner into U+FFFD."""
        if self._pending_high:
            piece, self._pending_high = self._pending_high + piece, ""
        if _HIGH_SURROGATES[0] <= piece[-1] <= _HIGH_SURROGATES[1]:
            piece, self._pending_high = piece[:-1], piece[-1]
        return piece.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def _whole(self, body: bytes) -> None:
        """A complete ``chat.completion`` object instead of a stream."""
        self.streamed = False
        payload = self._loads(body)
        if not isinstance(payload, dict):
            raise MalformedAnswerError(f"expected a JSON object, got {type(payload).__name__}")
        if payload.get("error"):
            raise _event_error(payload["error"], payload)
        if "choices" not in payload:
            raise MalformedAnswerError(
                f"a JSON body without 'choices' (keys: {', '.join(sorted(payload)) or 'none'})"
            )
        self._take(payload)
        self.done = True

    def result(self) -> Completion:
        """The answer, or why there is none.

        Raises :class:`FinishError` for a filtered answer, a tool call or an aborted
        generation, and :class:`StreamCutError` when the body ended with no finish reason
        (or with ``[DONE]`` and neither text nor a finish reason).
        """
        if self._pending_high:  # a high surrogate whose partner never came
            self._pending_high, self._surrogates = "", False
            self._text("\ufffd")
        meaning = finish_meaning(self.finish)
        if self.finish is None:
            if not self.done:
                raise StreamCutError(
                    f"the stream ended after {len(self.chunks)} chunk(s) without a finish"
                )
            if not self.chunks:
                # vLLM could end a failed generation with [DONE] and nothing else:
                # https://github.com/vllm-project/vllm/pull/40986
                raise StreamCutError("the server ended the stream without an answer")
        elif meaning not in _ENDINGS:
            raise FinishError(meaning, self.finish, self.finish_detail)
        text = "".join(self.chunks)
        usage = self.usage or {}
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        source: Literal["response", "counted"]
        if isinstance(prompt, int) and isinstance(completion, int):
            prompt_tokens, completion_tokens, source = prompt, completion, "response"
        else:
            prompt_tokens = count_message_tokens(self.messages)
            completion_tokens, source = count_tokens(text), "counted"
        return Completion(
            text,
            self.model,
            prompt_tokens,
            completion_tokens,
            self.finish,
            source,
            attempts=self.attempts,
            rate_limited=self.rate_limited,
            ending=_ENDINGS[meaning],
            streamed=self.streamed,
            omitted_fields=self.omitted_fields,
            retry_wait_s=self.retry_wait_s,
        )
