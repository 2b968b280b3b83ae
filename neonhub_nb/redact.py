"""Secret redaction: keys, tokens and passwords never reach the store, logs or errors.

Two nets: by field name (``api_key``, ``Authorization``, ``password`` ...) and by value
(``sk-...`` keys, bearer tokens, Slack/GitHub/Google/AWS token shapes, and the exact values
of every secret-looking environment variable this process knows). Each redaction reports
the path of what it replaced so the store can say which fields were redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["REDACTED", "Redactor", "is_secret_name", "redact_text"]

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|authorization|auth[_-]?header|"
    r"credential|cookie|private[_-]?key|access[_-]?key|signature|client[_-]?secret|"
    r"refresh|session[_-]?key)",
    re.IGNORECASE,
)
# Names that match the pattern above but hold counts, not secrets.
_NOT_SECRET_NAME = re.compile(
    r"^(prompt_tokens|completion_tokens|total_tokens|max_tokens|tokens|token_count|"
    r"max_completion_tokens|input_tokens|output_tokens|token_type|tokens_per_.*)$",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{16,}"  # OpenAI-style keys (sk-..., sk-proj-...)
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"  # Authorization: Bearer ...
    r"|(?i:basic)\s+[A-Za-z0-9+/=]{12,}"  # Authorization: Basic ...
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|ya29\.[0-9A-Za-z_\-]{20,}"  # Google OAuth access tokens
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|(?:rk|pk|sk)_(?:live|test)_[0-9A-Za-z]{10,}"  # Stripe
    r"|EAA[0-9A-Za-z]{20,}"  # Meta Graph tokens
    r"|shpat_[0-9a-fA-F]{20,})"  # Shopify
)


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a field or variable name says it holds a secret."""
    if _NOT_SECRET_NAME.match(name):
        return False
    return bool(_SECRET_NAME.search(name))


# Every pattern above contains one of these (lower-cased). Looking for them with ``in``
# is far cheaper than running the alternation over long texts that hold no secret.
_TRIGGERS = (
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "bearer",
    "basic",
    "xox",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "aiza",
    "ya29.",
    "akia",
    "eaa",
    "shpat_",
)


# The shortest text any pattern above can match; shorter strings need no scan.
_MIN_PATTERN_LENGTH = 15


def redact_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret-looking value and every known secret replaced."""
    if len(text) < 8:  # shorter than any known secret (Redactor keeps those >= 8 chars)
        return text
    for secret in known_secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    if len(text) < _MIN_PATTERN_LENGTH:
        return text
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    return _SECRET_VALUE.sub(REDACTED, text)


class Redactor:
    """Redacts nested JSON-like data, remembering which paths it changed.

    ``known_secrets`` are exact values (from the environment) to remove wherever they
    appear, even inside free text such as an error message.
    """

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        # Short values would redact ordinary words; real credentials are longer.
        self._known = sorted({s for s in known_secrets if s and len(s) >= 8}, key=len, reverse=True)
        self._cache: dict[str, str] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Redactor:
        return cls(value for name, value in environ.items() if is_secret_name(name))

    def text(self, value: str) -> str:
        if len(value) < 256:
            return redact_text(value, self._known)
        # A run's draft passes through here several times (LLM response, output, draft
        # row, result); scanning it once is enough.
        cached = self._cache.get(value)
        if cached is None:
            cached = redact_text(value, self._known)
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[value] = cached
        return cached

    def redact(self, value: Any, path: str = "") -> tuple[Any, list[str]]:
        """Return ``(clean_copy, redacted_paths)``."""
        found: list[str] = []
        clean = self._walk(value, path, found)
        return clean, found

    def _walk(self, value: Any, path: str, found: list[str]) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if is_secret_name(str(key)) and isinstance(item, str | bytes) and item:
                    out[str(key)] = REDACTED
                    found.append(child)
                else:
                    out[str(key)] = self._walk(item, child, found)
            return out
        if isinstance(value, list | tuple):
            return [self._walk(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
        if isinstance(value, str):
            if len(value) < 8:  # shorter than any pattern or known secret
                return value
            cleaned = self.text(value)
            if cleaned != value:
                found.append(path or "value")
            return cleaned
        return value
