"""The deterministic mock model: same request, same answer, byte for byte.

It reads the JSON brief a :class:`~neonhub_nb.agents.PromptTemplate` embeds and writes
from it with the writer the agents declared for the brief's task (``writers``), seeded
from the whole request, so any change to a prompt changes the output.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from . import Completion, Messages, TokenCallback
from .tokens import count_message_tokens, count_tokens

__all__ = ["MockLLM", "MockWriter", "extract_brief", "request_seed", "write_reply"]

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
