"""The LLM client protocol and its deterministic mock.

Agents call ``complete(messages, ...)``; they never know which implementation they hold.
The mock reads the JSON brief embedded by a :class:`~neonhub_nb.agents.PromptTemplate` and
writes from it with the writer the agents declared for the brief's task, seeded from the
whole request: the same request always yields the same text, and any change to a prompt
changes the output.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .errors import LLMError
from .records import FINISH_MEANINGS, FinishMeaning, finish_meaning
from .tokens import count_message_tokens, count_tokens

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


_BRIEF = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


def extract_brief(messages: Messages) -> dict[str, Any]:
    for message in reversed(messages):
        match = _BRIEF.search(message.get("content", ""))
        if match:
            try:
                brief = json.loads(match.group(1))
            except ValueError:
                continue
            if isinstance(brief, dict):
                return brief
    return {}


def request_seed(messages: Messages, model: str, seed: int | None) -> int:
    digest = hashlib.sha256(
        json.dumps([list(map(dict, messages)), model, seed], sort_keys=True).encode()
    ).digest()
    return int.from_bytes(digest[:8], "big")


MockWriter = Callable[[Mapping[str, Any], int], str]

_REPLIES = (
    "Thanks for the brief: here is a short answer.",
    "Noted. The plan is to start small, measure, and repeat.",
    "Here is the summary you asked for, in one line.",
    "Understood; the next step is a first draft for review.",
)


def write_reply(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's answer to a request no agent declared a writer for."""
    return random.Random(seed).choice(_REPLIES)


class MockLLM:
    """Deterministic stand-in for a chat model; reports tokens as a real API would.

    ``writers`` map a brief's ``task`` to the function that writes the answer; the agents
    declare them (``AgentCatalog.mock_writers()``). A request without a known task gets a
    short fixed reply.
    """

    provider = "mock"

    def __init__(self, writers: Mapping[str, MockWriter] | None = None) -> None:
        self.writers: dict[str, MockWriter] = dict(writers or {})
        self.calls = 0

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
        self.calls += 1
        brief = extract_brief(messages)
        writer = self.writers.get(str(brief.get("task")), write_reply)
        text = writer(brief, request_seed(messages, model, seed))
        if on_token is not None:
            for chunk in re.findall(r"\S+\s*", text):
                on_token(chunk)
        return Completion(
            text=text,
            model=model,
            prompt_tokens=count_message_tokens(messages),
            completion_tokens=count_tokens(text),
        )

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
        # Pure CPU and microseconds long: nothing to gain from a thread.
        return self.complete(
            messages,
            model=model,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
            on_token=on_token,
        )
