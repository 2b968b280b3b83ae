"""How long to wait before trying an HTTP request again: the server's word, else a backoff.

Shared by the model client (``llm.retry``) and the connectors (``connectors.base``); each
decides *what* to retry, both wait the same way.

- :func:`retry_after_seconds` reads what a server asks for: ``retry-after-ms`` and
  ``x-ms-retry-after-ms`` (milliseconds; Azure OpenAI,
  https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/quota and
  https://github.com/openai/openai-python/issues/957) before ``Retry-After`` (seconds, or an
  HTTP date: RFC 9110 section 10.2.3).
- :func:`jittered_backoff` is exponential backoff with "equal jitter": half fixed, half
  random, so clients that failed together do not come back together
  (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["RETRY_AFTER_HEADERS", "jittered_backoff", "retry_after_seconds", "retry_after_value"]

#: Header names, lower-cased, in the order they are believed, with their unit in seconds.
RETRY_AFTER_HEADERS: tuple[tuple[str, float], ...] = (
    ("retry-after-ms", 0.001),
    ("x-ms-retry-after-ms", 0.001),
    ("retry-after", 1.0),
)


def retry_after_value(value: str | None, now: datetime, unit_s: float = 1.0) -> float | None:
    """Seconds to wait from one header value: a number (in ``unit_s`` seconds) or an HTTP
    date (``now`` is naive UTC). ``None`` when it is missing or says nothing usable."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value) * unit_s)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is not None:  # HTTP dates are GMT; the product's clocks are naive UTC
        when = when.astimezone(UTC).replace(tzinfo=None)
    return max(0.0, (when - now).total_seconds())


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a server asked to wait, from the first usable of :data:`RETRY_AFTER_HEADERS`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, unit in RETRY_AFTER_HEADERS:
        seconds = retry_after_value(lowered.get(name), now, unit)
        if seconds is not None:
            return seconds
    return None


def jittered_backoff(attempt: int, base_s: float, cap_s: float, rand: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): the ceiling
    ``min(cap_s, base_s * 2**(attempt-1))``, half of it fixed and half scaled by ``rand``
    (a uniform draw in [0, 1))."""
    ceiling = min(cap_s, base_s * 2.0 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * rand
