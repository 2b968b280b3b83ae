"""The model client: the protocol agents call, and its three implementations.

Agents call ``complete(messages, ...)``; they never know which implementation they hold:

- ``mock``: :class:`~neonhub_nb.llm.mock.MockLLM`, deterministic and offline;
- ``live``: :class:`~neonhub_nb.llm.live.OpenAILLM` over the official ``openai`` SDK, with
  ``stream`` (decoding), ``retry`` (what to retry, tenacity's loop), ``ratelimit`` (the
  client-side token bucket) and ``tokens`` (counting and prices);
- ``replay``: ``neonhub_nb.replay.ReplayLLM``, answers from recorded live runs.

Importing this package is cheap: ``live`` (and the openai SDK) load on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..errors import LLMError
from ..records import FINISH_MEANINGS, FinishMeaning, finish_meaning

__all__ = [
    "FINISH_MEANINGS",
    "AsyncLLMClient",
    "Completion",
    "Ending",
    "FinishMeaning",
    "LLMClient",
    "Messages",
    "MockLLM",
    "MockWriter",
    "TokenCallback",
    "extract_brief",
    "finish_meaning",
    "write_reply",
]

Messages = Sequence[Mapping[str, str]]
TokenCallback = Callable[[str], None]
# How an answer ended: "complete" (the model stopped on its own), "truncated" (it hit
# max_tokens: the text is cut off), "unknown" (the server gave no finish reason, or one this
# client does not know: the text is kept but nobody vouches that it is whole).
Ending = Literal["complete", "truncated", "unknown"]


@dataclass(frozen=True)
class Completion:
    """One model answer and what it took to get it.

    ``finish_reason`` is the server's own word (``None`` when it sent none); ``ending`` is
    what it means here (see :data:`FINISH_MEANINGS`). Only a
    ``complete`` answer is a finished draft: a ``truncated`` or ``unknown`` one must be
    recorded as such. Filtered answers, tool calls and aborted generations never become a
    Completion: the client raises an :class:`LLMError` subclass instead.
    """

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = "stop"
    usage_source: Literal["response", "counted"] = "response"
    # How many HTTP attempts the call took, and how often it was held back by a rate
    # limit (429s met plus client-side waits): recorded for the metrics exporter.
    attempts: int = 1
    rate_limited: int = 0
    # None: derived from finish_reason (so mock and replay answers say the same as live).
    ending: Ending | None = None
    # False when the server ignored stream: true and sent one JSON answer.
    streamed: bool = True
    # Optional request fields left out of the request that produced this answer (set up
    # front with NEONHUB_LLM_OMIT_FIELDS, or after the endpoint refused them).
    omitted_fields: tuple[str, ...] = ()
    # Seconds spent waiting between attempts (backoff and Retry-After), on the client's clock.
    retry_wait_s: float = 0.0

    def __post_init__(self) -> None:
        if self.ending is None:
            meaning = finish_meaning(self.finish_reason)
            ending = meaning if meaning in ("complete", "truncated") else "unknown"
            object.__setattr__(self, "ending", ending)

    @property
    def complete(self) -> bool:
        """The model stopped on its own: the text is the whole answer."""
        return self.ending == "complete"

    @property
    def truncated(self) -> bool:
        """The answer hit ``max_tokens``: the text is cut off."""
        return self.ending == "truncated"

    def json(self) -> Any:
        """The text parsed as JSON (structured output); :class:`LLMError` if it is not."""
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise LLMError(f"{self.model}: the answer is not valid JSON ({exc})") from None


class LLMClient(Protocol):
    provider: str

    def complete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """One chat completion; ``on_token`` receives text chunks as they stream in."""


class AsyncLLMClient(LLMClient, Protocol):
    """A client that can also be awaited: many calls in flight from one thread."""

    async def acomplete(
        self,
        messages: Messages,
        *,
        model: str,
        temperature: float = 0.7,
        seed: int | None = None,
        max_tokens: int | None = None,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """Like :meth:`LLMClient.complete`, without blocking the event loop."""


# Re-exported at the end: mock.py imports the protocol types above.
from .mock import MockLLM, MockWriter, extract_brief, write_reply  # noqa: E402
