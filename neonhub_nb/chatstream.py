"""Reading a streamed chat completion: server-sent events in, one :class:`Completion` out.

The SDK sends the request and maps HTTP errors; the event stream itself is parsed here
with orjson. Real servers stream one chunk per token, and the SDK's per-chunk pydantic
models cost more CPU than everything else in a run (``bench/bench_throughput.py``), so
reading plain dicts is what lets 32 drafts in flight keep up with the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .llm import Completion, Messages, TokenCallback
from .tokens import count_message_tokens, count_tokens

__all__ = ["CallbackError", "ChatStream", "StreamCutError", "StreamEventError"]


class StreamCutError(Exception):
    """The stream ended before the model said why it stopped (no ``finish_reason``)."""


class StreamEventError(Exception):
    """The server reported an error inside a stream that had started fine."""


class CallbackError(Exception):
    """``on_token`` raised: the caller's own error (``__cause__``), never retried."""


@dataclass
class ChatStream:
    """One logical call across its attempts: feed it lines, ask it for the result."""

    model: str
    messages: Messages
    on_token: TokenCallback | None
    attempts: int = 0
    rate_limited: int = 0
    emitted: int = 0  # chunks already handed to on_token (a retry would repeat them)
    chunks: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    finish: str | None = None
    done: bool = False
    _data: list[str] = field(default_factory=list)

    def start_attempt(self, waited: float) -> None:
        self.attempts += 1
        if waited > 0:
            self.rate_limited += 1
        self.chunks, self.usage, self.finish, self.done, self._data = [], None, None, False, []

    def feed(self, line: str) -> bool:
        """One line of the event stream; ``True`` once the server sent ``[DONE]``."""
        if self.done:  # anything after [DONE] is not part of the answer
            return True
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # an SSE comment (keep-alive)
            return False
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return False

    def end(self) -> None:
        """The body ended: an event without its closing blank line still counts."""
        self._dispatch()

    def _dispatch(self) -> bool:
        if not self._data:
            return False
        data = "\n".join(self._data)
        self._data = []
        if data.startswith("[DONE]"):
            self.done = True
            return True
        payload = orjson.loads(data)  # orjson.JSONDecodeError is a ValueError
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        if payload.get("error"):
            error = payload["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise StreamEventError(str(message or "an error occurred during streaming"))
        self._take(payload)
        return False

    def _take(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        choices = payload.get("choices") or []
        if not isinstance(choices, list):
            raise ValueError("'choices' is not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise ValueError("a choice is not an object")
            delta = choice.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            if piece:
                self.chunks.append(piece)
                if self.on_token is not None:
                    self.emitted += 1
                    try:
                        self.on_token(piece)
                    except Exception as exc:
                        raise CallbackError() from exc
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])

    def result(self) -> Completion:
        if self.finish is None:
            raise StreamCutError(
                f"the stream ended after {len(self.chunks)} chunk(s) without a finish"
            )
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
        )
