"""What the sinks need around the redactor: truncation, error values, log records.

* :func:`redact_truncate`: redact first, then cut, never inside a ``[REDACTED]`` marker
  (cutting first could leave the start of a secret that no rule recognises any more).
* :func:`safe_value`: how an error message may show a rejected value.
* :class:`RedactingFilter`: a ``logging.Filter`` that redacts records before any handler
  formats them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .engine import REDACTED
from .redactor import Redactor
from .shapes import looks_random, word_name

__all__ = ["HIDDEN_SECRET", "RedactingFilter", "redact_truncate", "safe_value"]

HIDDEN_SECRET = "(value hidden: looks like a secret)"

_DEFAULT = Redactor()
# A word that is a word, a number, a date or an e-mail-ish handle: harmless to echo.
_HARMLESS_WORD = re.compile(r"[A-Za-z][a-z'’]*|[A-Z]+|[0-9][0-9.,:/%-]*|[\w.+-]+@[\w.-]+")
_STRIP = ".,;:!?()[]\"'“”"


def redact_truncate(
    text: str, limit: int, *, redactor: Redactor | None = None, ellipsis: str = "…"
) -> str:
    """``text`` redacted, then cut to at most ``limit`` characters (``ellipsis`` included).

    A cut that would fall inside a ``[REDACTED]`` marker moves before the marker.

    Raises:
        ValueError: ``limit`` is smaller than ``len(ellipsis)`` or than 1.
    """
    if limit < max(1, len(ellipsis)):
        raise ValueError(f"limit: must be at least {max(1, len(ellipsis))} (got {limit})")
    clean = (redactor or _DEFAULT).text(text)
    if len(clean) <= limit:
        return clean
    cut = limit - len(ellipsis)
    marker = clean.rfind(REDACTED, max(0, cut - len(REDACTED) + 1), cut + len(REDACTED) - 1)
    if marker != -1 and marker < cut < marker + len(REDACTED):
        cut = marker
    return clean[:cut] + ellipsis


def safe_value(value: Any, *, redactor: Redactor | None = None, limit: int = 40) -> str:
    """How an error message may show ``value``: ``repr`` only if short and harmless.

    Returns ``"'friendly'"`` or ``"600"`` for ordinary values; ``"(value hidden: looks
    like a secret)"`` when the redactor finds a secret or a word looks random (a key of
    no known format); ``"(N characters)"`` when the value is long or has control
    characters. Numbers, booleans and ``None`` are shown as they are.
    """
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    if (redactor or _DEFAULT).finds_secret(text):
        return HIDDEN_SECRET
    words = [w.strip(_STRIP) for w in text.split()]
    if any(looks_random(w, 12) or not _harmless(w) for w in words if len(w) >= 12):
        return HIDDEN_SECRET
    if len(text) > limit or not text.isprintable():
        return f"({len(text)} characters)"
    return repr(text)


def _harmless(word: str) -> bool:
    if word_name(word):  # content.generate_article, older_than: names made of words
        return True
    return all(_HARMLESS_WORD.fullmatch(part) for part in word.split("-") if part)


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, arguments, exception and stack text.

    Attach it to handlers (``handler.addFilter(RedactingFilter(redactor))``): a filter on
    a logger does not see records from its child loggers. The record's message is
    formatted with its arguments, then redacted (``args`` becomes empty); a formatted
    exception replaces ``exc_info`` so no handler formats the raw traceback again.
    """

    def __init__(self, redactor: Redactor | None = None, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor or _DEFAULT

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep both parts, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redactor.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True
