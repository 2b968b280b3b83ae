"""How a rule works: a regex at a literal trigger, a window after a word, a shape.

The catalogue of rules (what the redactor knows) is :mod:`neonhub_nb.redaction.rules`;
the scanner that runs them is :mod:`neonhub_nb.redaction.engine`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import regex

from .names import is_secret_name
from .shapes import looks_random

__all__ = ["Check", "NearbyRule", "StructuralRule", "TokenRule", "secret_span"]

Check = Callable[[str, "re.Match[str]"], bool]


def secret_span(match: re.Match[str]) -> tuple[int, int]:
    """The part of a rule's match to replace: its ``s*`` group if any took part, else all."""
    for name in ("s", "s_dq", "s_sq", "s_bare"):
        if name in match.re.groupindex and match.start(name) >= 0:
            return match.span(name)
    return match.span()


class TokenRule:
    """A secret that starts at one of ``triggers``: ``pattern`` is matched at the trigger.

    ``ignore_case`` says the triggers are looked for case-insensitively (the scanner
    lower-cases the text for them); the pattern handles case itself. ``check`` sees the
    whole text and the match and may reject it (a plain word after ``Bearer``).
    ``anchor``, instead of literal triggers, is a regex whose matches are the rule's
    starting points (for a trigger too common to look for alone, like ``://``).
    """

    def __init__(
        self,
        name: str,
        triggers: tuple[str, ...],
        pattern: str,
        source: str,
        *,
        ignore_case: bool = False,
        check: Check | None = None,
        anchor: str | None = None,
    ) -> None:
        self.name = name
        self.triggers = tuple(t.lower() for t in triggers) if ignore_case else triggers
        self.pattern = pattern
        self.source = source
        self.ignore_case = ignore_case
        self.check = check
        self.anchor = anchor
        self.compiled = re.compile(pattern)
        # The `regex` engine only for streams: it reports partial matches at the end of
        # a buffer (`partial=True`); `re` is about four times faster for the rest.
        self.partial = regex.compile(pattern, regex.V0)

    def __repr__(self) -> str:
        return f"TokenRule({self.name!r})"

    def find(self, text: str, at: int) -> tuple[int, int] | None:
        """The span to redact if the rule matches at ``at``, else ``None``."""
        match = self.compiled.match(text, at)
        if match is None or (self.check is not None and not self.check(text, match)):
            return None
        start, end = secret_span(match)
        return (start, end) if end > start else None

    def pending(self, text: str, at: int) -> bool:
        """Whether more text could still change what the rule does at ``at``."""
        match: Any = self.partial.match(text, at, partial=True)
        return match is not None and (match.partial or match.end() == len(text))


class NearbyRule:
    """A random-looking string within ``window`` characters after a word like "token".

    For secrets of no known format that a sentence names: "my Twilio auth token is
    3f9a…", "API key: AbC…". Candidates are runs of 16 or more characters other than
    spaces, quotes and brackets (trailing punctuation dropped) that pass
    :func:`~neonhub_nb.redaction.shapes.looks_random` and are not a URL, a domain or an
    e-mail address.
    """

    name = "named-random-string"
    source = "gitleaks generic-api-key (keyword within a few characters, entropy >= 3)"
    _CANDIDATE = re.compile(r"(?<![^\s\"'`<>()\[\]{},;\x00])[^\s\"'`<>()\[\]{},;\x00]{16,}")
    _WORD_START = re.compile(r"(?<![^\s\"'`<>()\[\]{},;\x00])[^\s\"'`<>()\[\]{},;\x00]")
    # URLs, domains, e-mail addresses and other name=value settings are not secrets here
    # (a secret-named setting is the assignment rule's business).
    _NOT_SECRET = re.compile(
        r"[a-z][a-z0-9+.-]*://\S*|(?:www\.)?(?:[\w-]+\.)+[A-Za-z]{2,}(?:[/?#]\S*)?"
        r"|[\w.+-]+@[\w.-]+|[A-Za-z_][\w.-]*=[^=]\S*"
    )
    _WORD = re.compile(r"[A-Za-z0-9_\-]*")

    def __init__(self, triggers: tuple[str, ...], window: int) -> None:
        self.triggers = triggers
        self.window = window
        self.ignore_case = True

    def __repr__(self) -> str:
        return f"NearbyRule({self.window})"

    def _end(self, text: str, start: int) -> int:
        limit = min(len(text), start + self.window)
        newline = text.find("\n", start, limit)
        return limit if newline < 0 else newline

    def _secret(self, match: re.Match[str]) -> tuple[int, int] | None:
        word = match.group().rstrip(".,:;!?")
        if self._NOT_SECRET.fullmatch(word) or not looks_random(word):
            return None
        return match.start(), match.start() + len(word)

    def names_secret(self, text: str, start: int, end: int) -> bool:
        """Whether the trigger at ``start:end`` is a secret word, not "tokens" or "max_token"."""
        if " " in text[start:end]:  # "api key", "private key": unambiguous
            return True
        first = start
        while first > max(0, start - 64) and (text[first - 1].isalnum() or text[first - 1] in "_-"):
            first -= 1
        tail = self._WORD.match(text, end)
        return is_secret_name(text[first:end] + (tail.group() if tail else ""))

    def _candidates(self, text: str, start: int, end: int) -> Iterator[re.Match[str]]:
        # Runs that begin inside the window (they may end after it).
        for word in self._WORD_START.finditer(text, start, end):
            match = self._CANDIDATE.match(text, word.start())
            if match is not None:
                yield match

    def find_all(self, text: str, start: int) -> list[tuple[int, int]]:
        """Spans of random-looking runs that begin within the window after ``start``."""
        found = []
        for match in self._candidates(text, start, self._end(text, start)):
            span = self._secret(match)
            if span is not None:
                found.append(span)
        return found

    def pending(self, text: str, start: int) -> bool:
        """The window is not complete yet, or a candidate run reaches the end of text."""
        end = self._end(text, start)
        if end == len(text) and end < start + self.window:
            return True
        return any(m.end() == len(text) for m in self._candidates(text, start, end))


class StructuralRule:
    """A secret with no literal prefix, found from a cheap ``anchor`` regex.

    Discord bot tokens are ``base64(user id).timestamp.hmac``; their fixed middle part
    (a dot, six characters, a dot) is the anchor, the full ``pattern`` is checked around it.
    """

    def __init__(
        self, name: str, anchor: str, pattern: str, reach: tuple[int, int], source: str
    ) -> None:
        self.name = name
        self.source = source
        self.anchor = re.compile(anchor)
        self.anchor_bytes = re.compile(anchor.encode())
        self.compiled = re.compile(pattern)
        self.partial = regex.compile(pattern, regex.V0)
        # How far before its anchor a match can start: (fewest, most) characters.
        self.shortest, self.reach = reach

    def __repr__(self) -> str:
        return f"StructuralRule({self.name!r})"

    def find_all(self, text: str) -> list[tuple[int, int]]:
        """Every match in ``text``, tried only at the few starts an anchor allows."""
        found: list[tuple[int, int]] = []
        for anchor in self.anchor.finditer(text):
            at = anchor.start()
            for start in range(max(0, at - self.reach), max(0, at - self.shortest + 1)):
                match = self.compiled.match(text, start)
                if match is not None and match.end() > at:
                    found.append(match.span())
                    break
        return found

    def pending_from(self, text: str, begin: int) -> int | None:
        """Start of a match that the end of ``text`` could still extend or complete."""
        for match in self.partial.finditer(text, max(0, begin), len(text), partial=True):
            if match.partial or match.end() == len(text):
                return int(match.start())
        return None
