"""Deterministic answers of the mock model for the non-article agents.

Each writer reads the JSON brief its prompt embeds and answers in the agent's labelled-line
format, the way a capable model would; the seed comes from the whole request, so any
change of prompt or input changes the answer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

__all__ = ["WRITERS"]

Brief = Mapping[str, Any]


def _title(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def seo(brief: Brief, seed: int) -> str:
    rng = random.Random(seed)
    keyword = str(brief.get("primary_keyword", "marketing"))
    queries = [str(q.get("query")) for q in brief.get("top_queries", []) if q.get("query")]
    title = rng.choice(
        [
            f"{_title(keyword)}: What Works in {rng.choice(['Practice', '2026', 'Real Life'])}",
            f"{_title(keyword)} Made Simple",
            f"The Practical Guide to {_title(keyword)}",
        ]
    )
    meta = (
        f"Learn how {brief.get('audience', 'teams')} use {keyword} to grow, with clear "
        f"steps, examples and mistakes to avoid."
    )
    extra = queries[:4] or [f"{keyword} tips", f"{keyword} examples", f"best {keyword}"]
    return f"TITLE: {title}\nMETA: {meta}\nKEYWORDS: {', '.join([keyword, *extra])}\n"


def email(brief: Brief, seed: int) -> str:
    rng = random.Random(seed)
    product = str(brief.get("product", "our product"))
    goal = str(brief.get("goal", "try it"))
    subjects = [
        f"{_title(product)}: {goal}",
        f"A quick idea for {brief.get('audience', 'you')}",
        f"Why teams switch to {product}",
        f"Last chance: {goal}",
        f"{rng.choice(['New', 'Just in', 'Now live'])}: {product}",
    ]
    count = int(brief.get("subject_lines", 3))
    lines = [f"SUBJECT: {s}" for s in subjects[:count]]
    benefit = rng.choice(
        ["save hours every week", "ship campaigns faster", "grow with less effort"]
    )
    body = (
        f"Hi there,\n\n{_title(product)} helps {brief.get('audience', 'teams')} {benefit}."
        f"\n\n{brief.get('call_to_action', 'Reply to this email')} today.\n\nThanks,\n"
        "The team"
    )
    return "\n".join([*lines, f"PREVIEW: {goal} in minutes, not weeks", f"BODY: {body}"]) + "\n"


def social(brief: Brief, seed: int) -> str:
    rng = random.Random(seed)
    message = str(brief.get("message", "Something new"))
    tags = " ".join(f"#{t.replace(' ', '')}" for t in brief.get("hashtags", [])[:3])
    link = str(brief.get("link") or "")
    parts = []
    for network in brief.get("networks", []):
        if network == "x":
            parts.append(f"X: {message} {link} {tags}".strip())
        elif network == "linkedin":
            lead = rng.choice(["Here is what we learned", "Three takeaways", "Why it matters"])
            parts.append(
                f"LINKEDIN: {message}\n\n{lead}: start small, measure, repeat. "
                f"{link} {tags}".strip()
            )
        elif network == "instagram":
            parts.append(f"INSTAGRAM: {message} ✨ {tags}".strip())
    return "\n".join(parts) + "\n"


def ads(brief: Brief, seed: int) -> str:
    rng = random.Random(seed)
    product = _title(str(brief.get("product", "Product")))
    keyword = _title(str(brief.get("primary_keyword", product)))
    blocks = []
    for index in range(int(brief.get("variants", 2))):
        heads = [
            keyword,
            f"Try {product}",
            rng.choice(["Start Free Today", "Save Time Now", "Built For Teams"]),
            f"{product} For {_title(str(brief.get('audience', 'You')))}",
        ]
        rng.shuffle(heads)
        descs = [
            f"{product} helps {brief.get('audience', 'teams')} get more from {keyword.lower()}.",
            rng.choice(
                [
                    "Set up in minutes. No credit card required.",
                    "Trusted by growing teams. Start your free trial.",
                ]
            ),
        ]
        blocks.append(
            f"VARIANT: {index + 1}\n"
            + "\n".join(f"HEADLINE: {h}" for h in heads)
            + "\n"
            + "\n".join(f"DESCRIPTION: {d}" for d in descs)
        )
    return "\n".join(blocks) + "\n"


def insights(brief: Brief, seed: int) -> str:
    totals = brief.get("totals", {})
    queries = brief.get("top_queries", [])
    top = queries[0]["query"] if queries else "no queries"
    change = totals.get("sessions_change_pct", 0)
    direction = "up" if change >= 0 else "down"
    return (
        f"SUMMARY: Sessions were {direction} {abs(change):.1f}% against the previous period "
        f"({totals.get('sessions', 0):,} in total). Search brought "
        f"{totals.get('clicks', 0):,} clicks; the leading query was '{top}'.\n"
        f"ACTIONS: Double down on '{top}', refresh pages with falling clicks, "
        "test a new title on the top landing page\n"
    )


def judge(brief: Brief, seed: int) -> str:
    draft = str(brief.get("draft", ""))
    keyword = str(brief.get("primary_keyword", "")).lower()
    has_keyword = keyword in draft.lower()
    words = len(draft.split())
    score = 2 + has_keyword + (words > 150) + (draft.count("## ") > 1)
    found = "present" if has_keyword else "missing"
    return f"SCORE: {score}\nREASON: keyword {found}, {words} words\n"


WRITERS = {
    "seo": seo,
    "email": email,
    "social": social,
    "ads": ads,
    "insights": insights,
    "judge": judge,
}
