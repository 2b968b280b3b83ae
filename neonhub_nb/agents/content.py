"""``content.generate_article``: a long-form draft from topic, keyword, tone and audience."""

from __future__ import annotations

import re
from typing import Any

from ..errors import AgentError
from ..mockwriter import count_words
from ..models import DraftParams, Metric
from . import AgentSpec, register_agent
from .base import AgentContext, AgentOutput, DraftOutput

__all__ = ["ContentAgent", "analyse_article", "split_title"]

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
            draft=DraftOutput(title=title, content=content, metadata=metadata),
            metrics=(
                Metric(name="word_count", value=metadata["word_count"], unit="words"),
                Metric(name="reading_time_min", value=metadata["reading_time_min"], unit="min"),
            ),
        )


register_agent(
    AgentSpec(
        intent="content.generate_article",
        agent="content",
        params_model=DraftParams,
        factory=ContentAgent,
        description="Long-form article draft saved to content_drafts for review",
        prompt_name="content.article",
    )
)
