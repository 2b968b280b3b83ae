"""Scorers for drafts: each measures one thing in its own unit and passes or fails a
threshold, so two variants can be told apart and a failing draft says why.

================================  ======================  ==========================
scorer                            unit                    passes when
================================  ======================  ==========================
``title_chars``                   characters              20 to 60 (Google shows ~60)
``keyword_in_title``              1 yes / 0 no            1
``keyword_first_word``            word of the body        25 or earlier
``keyword_density_pct``           % of the words          0.5 to 3.0
``word_count_error_pct``          % off the target        10 or less
``reading_ease``                  Flesch score            60 or more (plain English)
``sentence_words``                words per sentence      20 or fewer
``banned_phrases``                phrases found           0
``judge_score`` (``judge=True``)  1-5 from the LLM judge  4 or more
================================  ======================  ==========================

:func:`score_draft` keeps the regression notebook's older scores (``data/golden/``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..agents.content import count_words

__all__ = [
    "BANNED_PHRASES",
    "JUDGE",
    "SCORERS",
    "Scorer",
    "flesch_reading_ease",
    "score_article",
    "score_draft",
]

BANNED_PHRASES = (
    "game-changer",
    "game changer",
    "in today's fast-paced world",
    "unlock the power",
    "delve into",
    "revolutionize",
    "synergy",
    "cutting-edge",
    "look no further",
    "it's important to note",
)

_WORDS = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


@lru_cache(maxsize=1)
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def _body(content: str) -> str:
    """The draft without its headings (Markdown ``#`` lines)."""
    return "\n".join(line for line in content.splitlines() if not line.lstrip().startswith("#"))


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease (higher is easier; 60-70 is plain English), Markdown stripped."""
    body = _body(text)
    words = _WORDS.findall(body)
    if not words:
        return 0.0
    sentences = max(1, len(_SENTENCE_END.findall(body)))
    hyphenator = _hyphenator()
    syllables = sum(len(hyphenator.positions(word.lower())) + 1 for word in words)
    return round(206.835 - 1.015 * len(words) / sentences - 84.6 * syllables / len(words), 1)


def score_draft(title: str, content: str, keyword: str, target_words: int) -> dict[str, float]:
    """The regression notebook's scores of a draft; each in [0, 1] except ``reading_ease``."""
    lowered_keyword = keyword.lower()
    paragraphs = [p for p in content.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    words = count_words(content)
    banned = [phrase for phrase in BANNED_PHRASES if phrase in content.lower()]
    return {
        "keyword_in_title": float(lowered_keyword in title.lower()),
        "keyword_in_first_paragraph": float(
            bool(paragraphs) and lowered_keyword in paragraphs[0].lower()
        ),
        "word_count_adherence": round(max(0.0, 1 - abs(words - target_words) / target_words), 3),
        "no_banned_phrases": float(not banned),
        "reading_ease": flesch_reading_ease(content),
    }


@dataclass(frozen=True)
class Scorer:
    """One measure of a draft and its pass band ``[low, high]`` (``None``: open)."""

    name: str
    description: str
    unit: str
    measure: Callable[[str, str, Mapping[str, Any]], float | None]
    low: float | None = None
    high: float | None = None
    higher_is_better: bool = True

    def passes(self, value: float | None) -> bool:
        """Whether ``value`` is in the band (a missing or NaN value fails)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    @property
    def rule(self) -> str:
        """The pass band in words: ``≤ 60``, ``≥ 4``, ``0.5–3``."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}"
        if self.high is not None:
            return f"≤ {self.high:g}"
        return f"≥ {self.low:g}"


def _keyword(params: Mapping[str, Any]) -> str:
    return str(params.get("primary_keyword") or "").lower()


def _title_chars(title: str, content: str, params: Mapping[str, Any]) -> float:
    return float(len(title))


def _keyword_in_title(title: str, content: str, params: Mapping[str, Any]) -> float:
    return float(bool(_keyword(params)) and _keyword(params) in title.lower())


def _keyword_first_word(title: str, content: str, params: Mapping[str, Any]) -> float | None:
    keyword = _keyword(params).split()
    words = [w.lower() for w in _WORDS.findall(_body(content))]
    for index in range(len(words) - len(keyword) + 1):
        if keyword and words[index : index + len(keyword)] == keyword:
            return float(index + 1)
    return None  # never used: fails


def _keyword_density_pct(title: str, content: str, params: Mapping[str, Any]) -> float:
    keyword = _keyword(params)
    words = count_words(_body(content))
    if not keyword or not words:
        return 0.0
    uses = _body(content).lower().count(keyword)
    return round(100 * uses * len(keyword.split()) / words, 2)


def _word_count_error_pct(title: str, content: str, params: Mapping[str, Any]) -> float | None:
    target = params.get("word_count")
    if not target:
        return None
    return round(100 * abs(count_words(content) - int(target)) / int(target), 1)


def _reading_ease(title: str, content: str, params: Mapping[str, Any]) -> float:
    return flesch_reading_ease(content)


def _sentence_words(title: str, content: str, params: Mapping[str, Any]) -> float:
    body = _body(content)
    sentences = max(1, len(_SENTENCE_END.findall(body)))
    return round(len(_WORDS.findall(body)) / sentences, 1)


def _banned_phrases(title: str, content: str, params: Mapping[str, Any]) -> float:
    lowered = content.lower()
    return float(sum(lowered.count(phrase) for phrase in BANNED_PHRASES))


#: The scorers every article experiment applies, in display order.
SCORERS: tuple[Scorer, ...] = (
    Scorer("title_chars", "title length", "characters", _title_chars, 20, 60, False),
    Scorer("keyword_in_title", "keyword in the title", "1 = yes", _keyword_in_title, 1),
    Scorer(
        "keyword_first_word",
        "first use of the keyword",
        "word of the body",
        _keyword_first_word,
        None,
        25,
        False,
    ),
    Scorer("keyword_density_pct", "keyword density", "% of words", _keyword_density_pct, 0.5, 3.0),
    Scorer(
        "word_count_error_pct",
        "distance from the word target",
        "% off",
        _word_count_error_pct,
        None,
        10,
        False,
    ),
    Scorer("reading_ease", "Flesch reading ease", "score", _reading_ease, 60),
    Scorer("sentence_words", "sentence length", "words/sentence", _sentence_words, None, 20, False),
    Scorer("banned_phrases", "clichés found", "phrases", _banned_phrases, None, 0, False),
)

#: The LLM judge's score, a check when an experiment runs with ``judge=True``.
JUDGE = Scorer("judge_score", "LLM judge", "1-5", lambda t, c, p: None, 4)


def score_article(title: str, content: str, params: Mapping[str, Any]) -> dict[str, float | None]:
    """Every scorer's value for one draft (``None``: not measurable, e.g. no keyword)."""
    return {scorer.name: scorer.measure(title, content, params) for scorer in SCORERS}
