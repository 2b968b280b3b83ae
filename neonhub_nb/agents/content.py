"""``content.generate_article``: a long-form draft from topic, keyword, tone and audience.

One module holds the agent's parameters (:class:`DraftParams`), its prompt templates, the
agent, and the mock model's writer (:func:`write_article`): a deterministic article with
the keyword in the title and first paragraph, the audience addressed, the tone's voice,
sections with headings, and a length within 10% of the requested word count. The same
brief and seed give the same text byte for byte; nothing here uses the clock or global
randomness.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from ..errors import AgentError, InvalidInputError
from ..models import AgentParams, Metric, Tone
from .base import AgentContext, AgentOutput, DraftOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate

__all__ = [
    "PROMPTS",
    "SPEC",
    "WORD_COUNT_MAX",
    "WORD_COUNT_MIN",
    "ContentAgent",
    "DraftParams",
    "analyse_article",
    "check_edit",
    "count_words",
    "split_title",
    "write_article",
]

WORD_COUNT_MIN = 50
WORD_COUNT_MAX = 5000


class DraftParams(AgentParams):
    """Parameters of a content draft (the reference's ``generateArticle`` input)."""

    topic: str = Field(min_length=1, max_length=200, description="What the article is about")
    primary_keyword: str = Field(min_length=1, max_length=80, description="SEO keyword to rank")
    secondary_keywords: tuple[str, ...] = Field(default=(), max_length=10)
    tone: Tone = "professional"
    audience: str = Field(default="marketing teams", min_length=1, max_length=200)
    word_count: int = Field(default=800, ge=WORD_COUNT_MIN, le=WORD_COUNT_MAX)


_ARTICLE_SYSTEM = (
    "You are a senior content marketer. Write original, accurate articles in Markdown. "
    "Start with a level-1 heading holding the title, use level-2 headings for sections, "
    "and never invent statistics."
)

PROMPTS = (
    PromptTemplate(
        name="content.article",
        version="v1",
        system=_ARTICLE_SYSTEM,
        instructions=(
            "Write a {tone} article of about {word_count} words on {topic} for {audience}. "
            "Use the primary keyword '{primary_keyword}' in the title and the first paragraph."
        ),
        style={"title": "guide", "intro": "keyword-first"},
    ),
    PromptTemplate(
        name="content.article",
        version="v2",
        system=_ARTICLE_SYSTEM,
        instructions=(
            "Write a {tone} how-to article of about {word_count} words on {topic} for "
            "{audience}. Open with a question that names the primary keyword "
            "'{primary_keyword}', and put the keyword in the title."
        ),
        style={"title": "how-to", "intro": "question"},
    ),
)


# ------------------------------------------------------------ mock writer
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")


def count_words(text: str) -> int:
    """Words as a reader counts them (Markdown markers are not words)."""
    return len(_WORD.findall(text))


_VOICE: dict[str, dict[str, list[str]]] = {
    "professional": {
        "open": ["In practice,", "For most teams,", "Put simply,", "In our experience,"],
        "close": ["The next step is to put this into your plan.", "Start small and measure."],
    },
    "friendly": {
        "open": ["Here's the good news:", "Let's be honest:", "Good news first:", "Here's a tip:"],
        "close": ["You've got this.", "Give it a try this week and see how it feels."],
    },
    "authoritative": {
        "open": ["The evidence is clear:", "Experience shows that", "Without exception,"],
        "close": ["Teams that act on this outperform those that wait.", "Make it a standard."],
    },
    "conversational": {
        "open": ["So here's the thing:", "You might be wondering:", "Think about it:"],
        "close": ["Sound doable? It is.", "Let us know how it goes."],
    },
    "witty": {
        "open": ["Spoiler alert:", "Plot twist:", "Fun fact:", "Brace yourself:"],
        "close": ["Your future self will send a thank-you note.", "No capes required."],
    },
    "persuasive": {
        "open": ["Imagine this:", "Here is why it matters:", "Consider the upside:"],
        "close": ["The best time to start is today.", "Don't let competitors get there first."],
    },
}

_TITLES = {
    "guide": "{KeywordTitle}: A Practical Guide for {Audience}",
    "how-to": "How {Audience} Can Get Real Results from {KeywordTitle}",
    "listicle": "{n} Proven Ways to Use {KeywordTitle} for {Topic}",
    "question": "Is {KeywordTitle} the Missing Piece of Your {Topic} Strategy?",
}

_HEADINGS = [
    "Why {keyword} matters for {audience}",
    "Getting started with {keyword}",
    "Common mistakes to avoid",
    "Measuring what works",
    "A simple plan for {topic}",
    "Real-world examples",
    "Tools that make {keyword} easier",
    "Making {topic} part of your routine",
    "What to do when results stall",
    "Scaling what works",
]

_SENTENCES = [
    "{keyword} works best when it starts from what {audience} actually need.",
    "A clear goal for {topic} keeps every piece of work pointed the same way.",
    "Most teams see the first results within a few weeks, not months.",
    "Write down one metric that tells you whether {keyword} is paying off.",
    "Small experiments beat big launches because they teach you faster.",
    "Talk to five people from your audience before you write a single line.",
    "Consistency matters more than volume when it comes to {topic}.",
    "Pair {keyword} with {secondary} to reach people earlier in their journey.",
    "Document what you learn so the next campaign starts ahead.",
    "Keep the message simple enough to fit in one sentence.",
    "Review the numbers every week and cut what is not working.",
    "The teams that win with {topic} treat it as a habit, not a project.",
    "Start with the questions {audience} already ask.",
    "Good {keyword} content answers one question better than anyone else.",
    "Budget a little time each week for testing new ideas.",
    "Use plain language; jargon slows readers down.",
    "Share early drafts with a colleague and ask what is unclear.",
    "Every channel has its own rhythm, so adapt the format, not the message.",
    "It pays off.",
    "Measure, then adjust.",
    "Clarity wins.",
    "{keyword} is worth the effort.",
    "Keep it focused.",
]


def _fill(template: str, slots: Mapping[str, str]) -> str:
    return template.format(**slots)


def _slots(brief: Mapping[str, Any], rng: random.Random) -> dict[str, str]:
    keyword = str(brief.get("primary_keyword") or brief.get("topic") or "marketing")
    topic = str(brief.get("topic") or keyword)
    audience = str(brief.get("audience") or "marketing teams")
    secondary = list(brief.get("secondary_keywords") or []) or [f"{keyword} analytics"]
    return {
        "keyword": keyword,
        "Keyword": keyword[:1].upper() + keyword[1:],
        "KeywordTitle": " ".join(w[:1].upper() + w[1:] for w in keyword.split()),
        "topic": topic,
        "Topic": topic.title(),
        "audience": audience,
        "Audience": audience.title(),
        "secondary": rng.choice(secondary),
        "n": str(rng.choice([5, 7, 9])),
    }


class _Budget:
    """Adds sentences until the article reaches its word target, never overshooting 10%."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.used = 0

    @property
    def remaining(self) -> int:
        return self.target - self.used

    def fits(self, words: int) -> bool:
        return self.used + words <= self.target * 1.08

    def take(self, text: str) -> str:
        self.used += count_words(text)
        return text


_PREFIXES = [
    "",
    "",
    "",
    "For {audience}, ",
    "When it comes to {topic}, ",
    "Over time, ",
    "In short, ",
]
_SUFFIXES = ["", "", "", " That compounds over time.", " It sounds obvious, yet few do it."]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Sentences:
    """Draws sentences for one article, avoiding repeats until the variations run out.

    Templates are filled and their words counted once per article; a draw walks them from
    a random starting point (cheaper than shuffling per draw: the mock must write
    thousands of drafts a second).
    """

    def __init__(self, rng: random.Random, slots: Mapping[str, str]) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self.cores = [_fill(core, slots) for core in _SENTENCES]
        self.prefixes = [_fill(prefix, slots) for prefix in _PREFIXES]
        self.prefix_words = [count_words(prefix) for prefix in self.prefixes]
        self.core_words = [count_words(core) for core in self.cores]
        self.suffix_words = [count_words(suffix) for suffix in _SUFFIXES]

    def draw(self, budget: _Budget) -> str | None:
        rng, count = self.rng, len(self.cores)
        start = rng.randrange(count)
        fallback: str | None = None
        for step in range(count):
            index = (start + step) % count
            p, x = rng.randrange(len(self.prefixes)), rng.randrange(len(_SUFFIXES))
            words = self.prefix_words[p] + self.core_words[index] + self.suffix_words[x]
            if not budget.fits(words) or (budget.remaining < words and budget.remaining <= 3):
                continue
            core = self.cores[index]
            text = (
                self.prefixes[p] + core[:1].lower() + core[1:] if p and self.prefixes[p] else core
            )
            text = _capitalise(text) + _SUFFIXES[x]
            if text not in self.used:
                self.used.add(text)
                budget.used += words
                return text
            fallback = fallback or text
        return budget.take(fallback) if fallback else None


def write_article(brief: Mapping[str, Any], seed: int) -> str:
    """A Markdown article (``# Title`` first) for a content brief."""
    rng = random.Random(seed)
    slots = _slots(brief, rng)
    target = int(brief.get("word_count") or 800)
    tone = str(brief.get("tone") or "professional")
    voice = _VOICE.get(tone, _VOICE["professional"])
    style: Mapping[str, Any] = brief.get("style") or {}
    budget = _Budget(target)

    title = budget.take(
        _fill(_TITLES.get(str(style.get("title", "guide")), _TITLES["guide"]), slots)
    )
    parts = [f"# {title}"]

    hook = {
        "question": f"Are {slots['audience']} getting everything they could from "
        f"{slots['keyword']}?",
        "keyword-first": f"{slots['Keyword']} is one of the fastest ways for {slots['audience']} "
        f"to make progress on {slots['topic']}.",
    }.get(str(style.get("intro", "keyword-first")), "")
    if not hook:
        hook = f"{rng.choice(voice['open'])} {slots['topic']} rewards teams that plan for it."
    sentences = _Sentences(rng, slots)
    intro = [budget.take(hook)]
    for _ in range(2):
        sentence = sentences.draw(budget)
        if sentence:
            intro.append(sentence)
    parts.append(" ".join(intro))

    closing = f"{rng.choice(voice['close'])}"
    reserve = count_words(closing) + (3 if target >= 150 else 0)
    headings = _HEADINGS[:]
    rng.shuffle(headings)
    last_opener = ""
    while budget.remaining - reserve > 12 and headings:
        if target >= 150:
            heading = budget.take(_fill(headings.pop(), slots))
            heading = heading[:1].upper() + heading[1:]
            parts.append(f"## {heading}")
        openers = [o for o in voice["open"] if o != last_opener]
        last_opener = rng.choice(openers)
        paragraph: list[str] = [budget.take(last_opener)]
        for _ in range(rng.randint(3, 5)):
            if budget.remaining - reserve <= 4:
                break
            sentence = sentences.draw(budget)
            if sentence is None:
                break
            if len(paragraph) == 1 and last_opener.endswith((":", ",")):
                sentence = sentence[:1].lower() + sentence[1:]
            paragraph.append(sentence)
        parts.append(" ".join(paragraph))
        if target < 150:
            break
    if target >= 150:
        parts.append(f"## {budget.take('Next steps')}")
    ending = [budget.take(closing)] if budget.fits(count_words(closing)) else []
    while budget.remaining > 3:
        sentence = sentences.draw(budget)
        if sentence is None:
            break
        ending.insert(0, sentence)
    if ending:
        parts.append(" ".join(ending))
    return "\n\n".join(parts) + "\n"


# ------------------------------------------------------------------ agent

_H1 = re.compile(r"^\s*#\s+(.+?)\s*#*\s*$")


def split_title(markdown: str) -> tuple[str, str]:
    """``(title, markdown)`` from a model's answer; the title is its first ``# `` heading."""
    lines = markdown.strip().splitlines()
    for line in lines:
        match = _H1.match(line)
        if match:
            return match.group(1).strip(), markdown.strip() + "\n"
        if line.strip():
            break
    # Models sometimes answer with a bold line or plain first line as the title.
    first = lines[0].strip().strip("*").strip() if lines else ""
    return first, markdown.strip() + "\n"


def analyse_article(title: str, content: str, params: DraftParams) -> dict[str, Any]:
    words = count_words(content)
    keyword = params.primary_keyword.lower()
    body = content.lower()
    paragraphs = [p for p in content.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return {
        "word_count": words,
        "target_word_count": params.word_count,
        "reading_time_min": max(1, round(words / 230)),
        "keyword_count": body.count(keyword),
        "keyword_in_title": keyword in title.lower(),
        "keyword_in_first_paragraph": bool(paragraphs) and keyword in paragraphs[0].lower(),
        "headings": [line[3:].strip() for line in content.splitlines() if line.startswith("## ")],
        "secondary_keywords_used": [k for k in params.secondary_keywords if k.lower() in body],
        "tone": params.tone,
        "audience": params.audience,
    }


class ContentAgent:
    name = "content"
    prompt_name = "content.article"

    def run(self, params: DraftParams, ctx: AgentContext) -> AgentOutput:
        prompt = ctx.prompt(self.prompt_name)
        messages = prompt.render(params.model_dump(mode="json"))
        # Room for the article plus markup: ~1.4 tokens per English word.
        completion = ctx.complete(messages, max_tokens=int(params.word_count * 2) + 200)
        if not completion.text.strip():
            raise AgentError("the model returned an empty draft")
        title, content = split_title(completion.text)
        if not title:
            raise AgentError("the model's draft has no title line")
        metadata = analyse_article(title, content, params)
        return AgentOutput(
            output={"title": title, "word_count": metadata["word_count"]},
            draft=DraftOutput(
                title=title,
                content=content,
                metadata=metadata,
                topic=params.topic,
                primary_keyword=params.primary_keyword,
            ),
            metrics=(
                Metric(name="word_count", value=metadata["word_count"], unit="words"),
                Metric(name="reading_time_min", value=metadata["reading_time_min"], unit="min"),
            ),
        )


def check_edit(content: str) -> str:
    """A reviewer's edit of the article: Markdown whose first line is its title."""
    title, _ = split_title(content)
    if not title:
        raise InvalidInputError("content", "the edit has no title line (start with '# Title')")
    return title


SPEC = AgentSpec(
    intent="content.generate_article",
    agent="content",
    params_model=DraftParams,
    factory=ContentAgent,
    description="Long-form article draft saved to content_drafts for review",
    prompt_name="content.article",
    prompts=PROMPTS,
    mock_writers={"article": write_article},
    check_edit=check_edit,
)
