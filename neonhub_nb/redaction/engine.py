"""The scanner: one literal pass decides whether a text can hold a secret at all.

Three Aho-Corasick automata (Rust ``aho-corasick`` through ``ahocorasick_rs``) hold every
rule trigger and every known secret value: case-insensitive words (``password``,
``bearer``), case-sensitive prefixes (``ghp_``, ``AIza``, ``-----BEGIN``) and the exact
known values. A text none of them hits, and with no Discord anchor (``.xxxxxx.``), holds
no secret any rule could find: that is the common case, and costs one pass over the
UTF-8 bytes (figures in ``docs/redaction.md``, from ``bench/bench_redact.py``). Only
texts with a hit take the slow path, where each rule's regex runs at its triggers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import ahocorasick_rs as aho
import regex

from .kinds import NearbyRule, StructuralRule, TokenRule
from .rules import CONTEXT_RULES, FORMAT_RULES, NEARBY_TRIGGERS, NEARBY_WINDOW, discord_rule

__all__ = ["MIN_SECRET_TEXT", "REDACTED", "Scanner", "apply_spans", "merge_spans"]

REDACTED = "[REDACTED]"

#: Shorter texts cannot hold anything a rule matches ("pass=x" is the shortest).
MIN_SECRET_TEXT = 6

Rule = TokenRule | NearbyRule
Span = tuple[int, int]


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping or touching spans joined."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def apply_spans(text: str, spans: Sequence[Span], start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with each (merged) span replaced by :data:`REDACTED`."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(text[pos:s])
        out.append(REDACTED)
        pos = e
    out.append(text[pos:end])
    return "".join(out)


class _Literals:
    """One set of literals, a fast automaton, an all-matches automaton and a trie.

    Leftmost-first search lets the crate use its SIMD prefilter (about ten times faster
    than an overlapping search); it reports non-overlapping matches only, so around each
    one an overlapping search over a few characters finds the literals it hid.
    """

    def __init__(self, literals: Sequence[str], *, quick_build: bool = False) -> None:
        self.literals = list(literals)
        first = aho.MATCHKIND_LEFTMOST_FIRST
        # The rule triggers are built once: a DFA, fastest to search (3x a contiguous NFA
        # when the prefilter lets many candidates through). Known values are built per
        # redactor: a contiguous NFA builds in microseconds where a DFA takes milliseconds.
        kind = aho.Implementation.ContiguousNFA if quick_build else aho.Implementation.DFA
        raw = [lit.encode() for lit in self.literals]
        self.fast = aho.BytesAhoCorasick(raw, matchkind=first, implementation=kind)
        self.fast_text = aho.AhoCorasick(self.literals, matchkind=first, implementation=kind)
        self.all = aho.AhoCorasick(self.literals, implementation=kind)
        self.longest = max(len(lit) for lit in self.literals)
        self._trie: dict[str, Any] | None = None

    @property
    def trie(self) -> dict[str, Any]:
        """The literals as a character trie (built on first use: only streams need it)."""
        if self._trie is None:
            self._trie = _trie(self.literals)
        return self._trie

    def hits(self, text: str) -> list[tuple[int, int, int]]:
        """Every (literal index, start, end) in ``text``, overlapping ones included."""
        if text.isascii():  # byte offsets are character offsets
            reported = self.fast.find_matches_as_indexes(text.encode())
        else:
            text = _without_surrogates(text)
            reported = self.fast_text.find_matches_as_indexes(text)
        found: set[tuple[int, int, int]] = set()
        for _, start, end in reported:
            window = text[start : end + self.longest - 1]
            for index, s, e in self.all.find_matches_as_indexes(window, overlapping=True):
                if s < end - start:
                    found.add((index, start + s, start + e))
        return sorted(found, key=lambda hit: hit[1])


class _KnownValues:
    """Exact secret values: their first characters go in the automaton, hits are verified.

    Long values (a private key, a service-account JSON) would make a large automaton;
    the first :data:`_KNOWN_PREFIX` characters are as selective and cheap to build.
    """

    def __init__(self, values: Sequence[str]) -> None:
        self.values = tuple(values)
        by_prefix: dict[str, list[str]] = {}
        for value in sorted(values, key=len, reverse=True):
            by_prefix.setdefault(value[:_KNOWN_PREFIX], []).append(value)
        self._by_prefix = by_prefix
        self.literals = _Literals(list(by_prefix), quick_build=True)
        self._trie: dict[str, Any] | None = None

    @property
    def trie(self) -> dict[str, Any]:
        """The full values as a character trie, for streams (built on first use)."""
        if self._trie is None:
            self._trie = _trie(self.values)
        return self._trie

    def spans(self, text: str) -> list[Span]:
        found = []
        for index, start, _ in self.literals.hits(text):
            for value in self._by_prefix[self.literals.literals[index]]:
                if text.startswith(value, start):
                    found.append((start, start + len(value)))
        return found


_KNOWN_PREFIX = 24


def _without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (not UTF-8 encodable) as U+FFFD, indexes unchanged."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def _trie(words: Iterable[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
    return root


def _unfinished_from(text: str, trie: dict[str, Any], begin: int) -> int | None:
    """First position >= ``begin`` from which the rest of ``text`` is a pattern's prefix."""
    for pos in range(begin, len(text)):
        node = trie.get(text[pos])
        i = pos + 1
        while node is not None and i < len(text):
            node = node.get(text[i])
            i += 1
        if node:  # ran out of text inside the trie with longer patterns ahead
            return pos
    return None


def _aligned_lower(text: str) -> str:
    """``text`` lower-cased with every character kept at its index (for ASCII triggers)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _index(rules: Iterable[Rule], sensitive: bool) -> tuple[list[str], list[list[Rule]]]:
    literals: list[str] = []
    owners: list[list[Rule]] = []
    for rule in rules:
        if rule.ignore_case == sensitive or not rule.triggers:
            continue
        for trigger in rule.triggers:
            if trigger not in literals:
                literals.append(trigger)
                owners.append([])
            owners[literals.index(trigger)].append(rule)
    return literals, owners


class _Anchor:
    """Rules that start where a regex matches (``://user:pw@``), behind a literal guard.

    The guard (``://``) is one of the prefix literals; only when it occurs does the
    quick check run the anchor regex, so URLs without credentials stay on the fast path.
    """

    def __init__(self, pattern: str, guard: str, rules: Sequence[TokenRule]) -> None:
        if not pattern.startswith(re.escape(guard)) and not pattern.startswith(guard):
            raise ValueError(f"anchor {pattern!r} must start with its guard {guard!r}")
        self.guard = guard
        self.text = re.compile(pattern)
        self.raw = re.compile(pattern.encode())
        self.partial = regex.compile(pattern, regex.V0)
        self.rules = tuple(rules)


_ALL_TOKEN_RULES = (*FORMAT_RULES, *CONTEXT_RULES)
_ANCHORS = tuple(
    _Anchor(anchor, "://", [r for r in _ALL_TOKEN_RULES if r.anchor == anchor])
    for anchor in sorted({r.anchor for r in _ALL_TOKEN_RULES if r.anchor})
)
_NEARBY = NearbyRule(NEARBY_TRIGGERS, NEARBY_WINDOW)
_RULES: tuple[Rule, ...] = (*_ALL_TOKEN_RULES, _NEARBY)
_WORD_LITERALS, _WORD_OWNERS = _index(_RULES, sensitive=False)
_PREFIX_LITERALS, _PREFIX_OWNERS = _index(_RULES, sensitive=True)
# Guards are prefix literals with no rule of their own: a hit means "run the anchors".
_GUARDED: dict[int, list[_Anchor]] = {}
for _anchor in _ANCHORS:
    if _anchor.guard not in _PREFIX_LITERALS:
        _PREFIX_LITERALS.append(_anchor.guard)
        _PREFIX_OWNERS.append([])
    _GUARDED.setdefault(_PREFIX_LITERALS.index(_anchor.guard), []).append(_anchor)
_WORDS = _Literals(_WORD_LITERALS)
_PREFIXES = _Literals(_PREFIX_LITERALS)
_DISCORD = discord_rule()
_STRUCTURAL: tuple[StructuralRule, ...] = (_DISCORD,)
# The shortest Discord bot token: 24 + 1 + 6 + 1 + 27 characters.
_DISCORD_MIN = 59
_FIND_WORDS = _WORDS.fast.find_matches_as_indexes
_FIND_PREFIXES = _PREFIXES.fast.find_matches_as_indexes
_DISCORD_ANCHOR = _DISCORD.anchor_bytes.search


class Scanner:
    """Finds the spans of secrets in a text: rule matches and ``known`` exact values.

    ``known`` should already hold every form to look for (raw, URL- and JSON-encoded);
    :class:`~neonhub_nb.redaction.redactor.Redactor` prepares them.
    """

    def __init__(self, known: Sequence[str] = ()) -> None:
        self.known = tuple(known)
        self._known = _KnownValues(self.known) if self.known else None
        self._find_known = (
            self._known.literals.fast.find_matches_as_indexes if self._known else None
        )

    # ------------------------------------------------------------------ batch
    def may_contain(self, raw: bytes) -> bool:
        """Quick check over UTF-8 bytes (a text or a JSON document): False means clean."""
        # The automata's search methods are looked up once (module constants below): the
        # store calls this for every event of every run.
        if _FIND_WORDS(raw.lower()):
            return True
        for index, start, _ in _FIND_PREFIXES(raw):
            anchors = _GUARDED.get(index)
            if anchors is None or any(a.raw.search(raw, start) for a in anchors):
                return True
        if self._find_known is not None and self._find_known(raw):
            return True
        return len(raw) >= _DISCORD_MIN and _DISCORD_ANCHOR(raw) is not None

    def spans(self, text: str) -> list[Span]:
        """Merged spans of everything secret in ``text`` (empty for most texts)."""
        if len(text) < MIN_SECRET_TEXT:
            return []
        if not self.may_contain(text.encode("utf-8", "surrogatepass")):
            return []
        return self.spans_unchecked(text)

    def spans_unchecked(self, text: str) -> list[Span]:
        """:meth:`spans` without the quick check (for texts known to have a hit)."""
        return merge_spans(self._all_spans(text))

    def _all_spans(self, text: str) -> list[Span]:
        spans: list[Span] = []
        lowered = _aligned_lower(text)
        for owners, hits in (
            (_WORD_OWNERS, _WORDS.hits(lowered)),
            (_PREFIX_OWNERS, _PREFIXES.hits(text)),
        ):
            tried: set[tuple[int, int]] = set()
            for index, start, end in hits:
                for rule in owners[index]:
                    if (id(rule), start) in tried:
                        continue
                    tried.add((id(rule), start))
                    if isinstance(rule, NearbyRule):
                        if rule.names_secret(text, start, end):
                            spans.extend(rule.find_all(text, end))
                    else:
                        found = rule.find(text, start)
                        if found is not None:
                            spans.append(found)
        for anchor in _ANCHORS if "://" in text else ():
            for match in anchor.text.finditer(text):
                for token_rule in anchor.rules:
                    found = token_rule.find(text, match.start())
                    if found is not None:
                        spans.append(found)
        if self._known is not None:
            spans.extend(self._known.spans(text))
        for structural in _STRUCTURAL:
            spans.extend(structural.find_all(text))
        return spans

    def redact(self, text: str) -> str:
        """``text`` with every span replaced by :data:`REDACTED`."""
        spans = self.spans(text)
        return apply_spans(text, spans) if spans else text

    # ---------------------------------------------------------------- streams
    def settled_until(self, text: str, begin: int) -> tuple[int, list[Span]]:
        """For a stream buffer: how much of ``text[begin:]`` is final, and all its spans.

        Returns ``(cut, spans)``: no secret found in ``text`` straddles ``cut``, and no
        text that may arrive later can change the redaction of ``text[:cut]``. ``begin``
        is where unsent text starts (before it, already-sent context).
        """
        spans = merge_spans(self._all_spans(text)) if len(text) >= 1 else []
        cut = len(text)
        lowered = _aligned_lower(text)
        for trie, view in ((_WORDS.trie, lowered), (_PREFIXES.trie, text)):
            pos = _unfinished_from(view, trie, begin)
            if pos is not None:
                cut = min(cut, pos)
        if self._known is not None:
            pos = _unfinished_from(text, self._known.trie, begin)
            if pos is not None:
                cut = min(cut, pos)
        for owners, hits in (
            (_WORD_OWNERS, _WORDS.hits(lowered)),
            (_PREFIX_OWNERS, _PREFIXES.hits(text)),
        ):
            for index, start, end in hits:
                if start < begin or start >= cut:
                    continue
                for rule in owners[index]:
                    if isinstance(rule, NearbyRule):
                        # The word may still grow ("token" -> "tokens") or the window fill.
                        pending = end == len(text) or (
                            rule.names_secret(text, start, end) and rule.pending(text, end)
                        )
                    else:
                        pending = rule.pending(text, start)
                    if pending:
                        cut = min(cut, start)
                        break
        for anchor in _ANCHORS:
            # An anchor still arriving ("://user:pa") or complete but not yet judged.
            for partial in anchor.partial.finditer(text, begin, len(text), partial=True):
                done = not partial.partial
                if not done or any(r.pending(text, partial.start()) for r in anchor.rules):
                    cut = min(cut, partial.start())
                    break
        for structural in _STRUCTURAL:
            pos = structural.pending_from(text, max(begin, len(text) - 100))
            if pos is not None:
                cut = min(cut, pos)
        # A span reaching the end may still grow or join the next one; a span across the
        # cut must go out whole or not at all.
        changed = True
        while changed:
            changed = False
            for start, end in spans:
                if start < cut and (end > cut or end == len(text)) and start >= begin:
                    cut, changed = start, True
        return cut, spans
