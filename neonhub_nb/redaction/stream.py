"""Redaction for text that arrives in chunks (a model's streamed tokens).

A secret may be split across chunks (``"sk-pr"`` then ``"oj-AbC..."``), so the stream
redactor holds back the shortest tail that could still be the start of a secret, sends
everything before it, and sends the rest when the stream ends. What it sends, joined, is
exactly what :meth:`Redactor.text` makes of the whole text.
"""

from __future__ import annotations

from .engine import apply_spans
from .redactor import Redactor

__all__ = ["StreamRedactor"]

# Sent text kept (unredacted, never re-sent) so rules see what precedes new text: the
# name before ``=`` in ``DB_PASSWORD=...`` is looked up to 64 characters back.
_CONTEXT = 80


class StreamRedactor:
    """Redacts a stream of text chunks; nothing of a secret is ever returned.

    >>> stream = StreamRedactor(Redactor())
    >>> stream.feed("key: ghp_") + stream.feed("A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 sent. Thx")
    'key: [REDACTED] sent. Th'
    >>> stream.flush()  # "x" could have started "xoxb-"
    'x'

    What is held back is at most a trigger's or a known value's length, a token still
    growing, or a private-key block until its END line (an unterminated block is redacted
    to the end of the stream). Not thread-safe: one instance per stream.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()
        self._context = ""
        self._pending = ""

    @property
    def held(self) -> int:
        """Characters received but not sent yet."""
        return len(self._pending)

    def feed(self, chunk: str) -> str:
        """Add ``chunk``; return the text that is now safe to show (possibly "")."""
        if not chunk:
            return ""
        self._pending += chunk
        text = self._context + self._pending
        begin = len(self._context)
        cut, spans = self.redactor.scanner.settled_until(text, begin)
        if cut <= begin:
            return ""
        out = apply_spans(text, spans, begin, cut)
        self._context = text[max(0, cut - _CONTEXT) : cut]
        self._pending = text[cut:]
        return out

    def flush(self) -> str:
        """Return everything still held back, redacted; the stream can then start over."""
        text = self._context + self._pending
        begin = len(self._context)
        self._context = self._pending = ""
        if begin == len(text):
            return ""
        spans = self.redactor.scanner.spans_unchecked(text)
        return apply_spans(text, spans, begin)
