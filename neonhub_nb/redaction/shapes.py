"""Small judgements about a string's shape: random-looking, token-like, a plain word.

The format rules use these to tell ``sk-3fA9...`` from ``sk-free-tips``, a bearer token
from "Bearer tokens", and a credential from an English word after ``Secret:``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

__all__ = [
    "basic_credentials",
    "credential_like",
    "has_mixed_classes",
    "looks_random",
    "shannon_entropy",
    "token_like",
    "word_name",
]

# "Consistency", "tips", "NASA": words, not credentials.
_PLAIN_WORD = re.compile(r"[A-Za-z][a-z]*|[A-Z]+")
# GA4_ACCESS_TOKEN, max-tokens-per-run, utm.source2: names made of words, not secrets.
_NAME_PART = r"(?:[A-Z]+|[a-z]+|[A-Z][a-z]+)[0-9]*"
_IDENTIFIER = re.compile(rf"{_NAME_PART}(?:[_.\-]{_NAME_PART})+")


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (0.0 for an empty string)."""
    if not text:
        return 0.0
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in Counter(text).values())


def has_mixed_classes(text: str) -> bool:
    """A digit, or upper and lower case letters together: not a lower-case word."""
    if any(c.isdigit() for c in text):
        return True
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def token_like(text: str, min_len: int = 8) -> bool:
    """At least ``min_len`` characters and not a single plain word ("understanding")."""
    return len(text) >= min_len and not _PLAIN_WORD.fullmatch(text)


def credential_like(text: str) -> bool:
    """What may follow ``Password:`` in prose: not a plain word, or a long one.

    Sentence punctuation at the end is ignored ("Secret: consistency." is prose).
    """
    word = text.rstrip(".,:;!?")
    return len(word) >= 6 and (not _PLAIN_WORD.fullmatch(word) or len(word) >= 16)


def word_name(text: str) -> bool:
    """A name made of words joined by ``.``, ``_`` or ``-`` (``content.generate_article``,
    ``GA4_ACCESS_TOKEN``): an identifier, not a credential."""
    return bool(_IDENTIFIER.fullmatch(text))


def looks_random(text: str, min_len: int = 16) -> bool:
    """Long, with letters and digits (or three character classes), and high entropy.

    English words, dates and names made of words (``GA4_ACCESS_TOKEN``) fail; API keys,
    32-hex keys and base64 secrets pass. The threshold (3.0 bits/char) is what
    ``gitleaks`` uses for its generic rules.
    """
    if len(text) < min_len or _IDENTIFIER.fullmatch(text):
        return False
    digits = sum(c.isdigit() for c in text)
    letters = sum(c.isalpha() for c in text)
    upper = any(c.isupper() for c in text)
    lower = any(c.islower() for c in text)
    classes = (digits > 0) + upper + lower + any(not c.isalnum() for c in text)
    if not ((digits and letters) or classes >= 3):
        return False
    return shannon_entropy(text) >= 3.0


def basic_credentials(text: str) -> bool:
    """Whether ``text`` is base64 of ``user:password`` (HTTP Basic, RFC 7617 section 2)."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()
