"""Two drafts side by side, with a word-level diff and their scores beside them.

Words the variant removed are struck through in red on the baseline's side; words it
added are green on its own side; everything else is the same text in both. The whole
of each draft is shown (no excerpt), with its line breaks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from ..formats import format_cost
from .scoring import Scorer

__all__ = ["WordDiff", "side_by_side_html", "word_diff"]

_TOKEN = re.compile(r"\S+\s*|\s+")
_REMOVED = "background:#ffebe9;color:#82071e;text-decoration:line-through"
_ADDED = "background:#dafbe1;color:#116329"


@dataclass(frozen=True)
class WordDiff:
    """Both texts as HTML with their changes marked, and how much changed."""

    left_html: str
    right_html: str
    removed_words: int
    added_words: int
    same_words: int

    @property
    def changed_share(self) -> float:
        """Changed words over all words of both texts (0: identical, 1: nothing shared)."""
        total = self.removed_words + self.added_words + 2 * self.same_words
        return (self.removed_words + self.added_words) / total if total else 0.0


def _mark(tokens: Sequence[str], style: str | None) -> str:
    text = html.escape("".join(tokens))
    return f"<span style='{style}'>{text}</span>" if style and text.strip() else text


def word_diff(left: str, right: str) -> WordDiff:
    """The word-level difference of ``left`` (baseline) and ``right`` (variant)."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    # Compare words without their trailing spaces; autojunk off: common words matter here.
    matcher = SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b], autojunk=False)
    out_a, out_b = [], []
    removed = added = same = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out_a.append(_mark(a[i1:i2], None))
            out_b.append(_mark(b[j1:j2], None))
            same += sum(1 for t in a[i1:i2] if t.strip())
            continue
        if i2 > i1:
            out_a.append(_mark(a[i1:i2], _REMOVED))
            removed += sum(1 for t in a[i1:i2] if t.strip())
        if j2 > j1:
            out_b.append(_mark(b[j1:j2], _ADDED))
            added += sum(1 for t in b[j1:j2] if t.strip())
    return WordDiff("".join(out_a), "".join(out_b), removed, added, same)


def _value(value: Any, scorer: Scorer) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if scorer.name == "keyword_in_title":
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _scores_table(row: Mapping[str, Any], scorers: Sequence[Scorer]) -> str:
    lines = []
    for scorer in scorers:
        value = row.get(scorer.name)
        ok = scorer.passes(value)
        mark = (
            "<span style='color:#1a7f37'>&#10003; pass</span>"
            if ok
            else "<span style='color:#cf222e'>&#10007; fail</span>"
        )
        lines.append(
            f"<tr><td>{html.escape(scorer.description)}</td>"
            f"<td style='text-align:right'><b>{html.escape(_value(value, scorer))}</b></td>"
            f"<td style='color:#57606a'>{html.escape(scorer.rule)}</td><td>{mark}</td></tr>"
        )
    return (
        "<table class='neonhub-scores' style='font-size:12px;border-collapse:collapse;"
        f"width:100%'>{''.join(lines)}</table>"
    )


def _facts(row: Mapping[str, Any], timings: bool) -> str:
    tokens = int(row.get("total_tokens") or 0)
    latency = row.get("duration_ms")
    latency_text = f"{latency:,.0f} ms" if isinstance(latency, int | float) else "–"
    return (
        f"<div style='font-size:12px;color:#57606a'>{tokens:,} tokens &middot; "
        f"{format_cost(row.get('cost_usd'), significant=4)}"
        + (f" &middot; {latency_text}" if timings else "")
        + "</div>"
    )


def _column(
    row: Mapping[str, Any],
    body: str,
    scorers: Sequence[Scorer],
    role: str,
    won: bool,
    timings: bool,
) -> str:
    badge = (
        "<span style='background:#1a7f37;color:white;border-radius:10px;padding:1px 8px;"
        "font-size:12px;margin-left:6px'>winner</span>"
        if won
        else ""
    )
    passed = sum(scorer.passes(row.get(scorer.name)) for scorer in scorers)
    status = row.get("status")
    if status != "succeeded":
        body = (
            f"<div style='color:#cf222e'>{html.escape(str(status))}: "
            f"{html.escape(str(row.get('error') or ''))}</div>"
        )
    return (
        f"<div class='neonhub-variant' data-variant='{html.escape(str(row['variant']))}' "
        "style='flex:1 1 0;min-width:0;border:1px solid #d0d7de;border-radius:6px;padding:8px'>"
        f"<div><b>{html.escape(str(row['variant']))}</b> "
        f"<span style='color:#57606a'>({role})</span>{badge}</div>"
        f"<div style='font-size:12px'>checks passed: <b>{passed}/{len(scorers)}</b></div>"
        f"{_facts(row, timings)}{_scores_table(row, scorers)}"
        f"<h4 style='margin:8px 0 4px'>{html.escape(str(row.get('title') or ''))}</h4>"
        "<div class='neonhub-draft-text' style='white-space:pre-wrap;font-size:13px;"
        f"line-height:1.45'>{body}</div></div>"
    )


def side_by_side_html(
    baseline: Mapping[str, Any],
    variant: Mapping[str, Any],
    scorers: Sequence[Scorer],
    *,
    winner: str | None = None,
    heading: str = "",
    timings: bool = True,
) -> str:
    """Two runs of one input (rows of :attr:`Experiment.runs`) as two columns: scores
    with pass/fail, tokens, cost and (``timings``) latency, then the full drafts with a
    word diff."""
    diff = word_diff(str(baseline.get("content") or ""), str(variant.get("content") or ""))
    summary = (
        f"<div style='font-size:12px;color:#57606a;margin:4px 0'>word diff: "
        f"{diff.removed_words:,} removed, {diff.added_words:,} added, "
        f"{diff.same_words:,} unchanged ({diff.changed_share:.0%} changed)</div>"
    )
    return (
        "<div class='neonhub-compare' style='font-family:sans-serif;max-width:1200px'>"
        f"{heading}{summary}<div style='display:flex;gap:12px;align-items:flex-start'>"
        + _column(
            baseline, diff.left_html, scorers, "baseline", winner == baseline["variant"], timings
        )
        + _column(
            variant, diff.right_html, scorers, "variant", winner == variant["variant"], timings
        )
        + "</div></div>"
    )
