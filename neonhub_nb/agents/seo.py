"""``seo.optimize``: title, meta description and keywords for a draft, informed by Search
Console queries (the ``gsc`` connector is its tool)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, cast

from pydantic import Field

from ..connectors.gsc import SearchConsoleConnector
from ..models import AgentParams, Metric
from .base import AgentContext, AgentOutput, DraftOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import check_lengths, edited_fields, fit, parse_fields, split_list, title_case

__all__ = [
    "META_LIMIT",
    "PROMPTS",
    "SPEC",
    "TITLE_LIMIT",
    "SeoAgent",
    "SeoParams",
    "check_edit",
    "mock_writer",
]

TITLE_LIMIT = 60  # characters Google shows of a title
META_LIMIT = 160  # characters of a meta description before truncation


class SeoParams(AgentParams):
    primary_keyword: str = Field(min_length=1, max_length=80)
    title: str = Field(min_length=1, max_length=300, description="Current title of the draft")
    content: str = Field(min_length=1, max_length=60_000, description="The draft (Markdown)")
    audience: str = Field(default="marketing teams", min_length=1, max_length=200)
    lookback_days: int = Field(default=28, ge=1, le=480)
    end_date: date | None = Field(default=None, description="Last day of Search Console data")


PROMPTS = (
    PromptTemplate(
        name="seo.optimize",
        version="v1",
        task="seo",
        system="You are an SEO editor. Answer only with the labelled lines asked for.",
        instructions=(
            "Suggest an SEO title (at most 60 characters, containing '{primary_keyword}'), a meta "
            "description (at most 160 characters) and up to 6 keywords for the draft below, "
            "using the Search Console queries in the brief.\n"
            "Answer exactly as:\nTITLE: ...\nMETA: ...\nKEYWORDS: a, b, c"
        ),
    ),
)


class SeoAgent:
    name = "seo"

    def run(self, params: SeoParams, ctx: AgentContext) -> AgentOutput:
        gsc = cast(SearchConsoleConnector, ctx.connector("gsc"))
        end = params.end_date or ctx.clock.now().date()
        rows = gsc.search_analytics(
            str(end - timedelta(days=params.lookback_days)),
            str(end),
            dimensions=("query",),
            row_limit=250,
            max_pages=2,
        )
        keyword = params.primary_keyword.lower()
        related = sorted(
            (r for r in rows if any(w in str(r.get("query", "")).lower() for w in keyword.split())),
            key=lambda r: -float(r.get("clicks", 0)),
        )[:10]
        prompt = ctx.prompt("seo.optimize")
        brief = {
            **params.model_dump(mode="json", exclude={"content"}),
            "draft_excerpt": params.content[:2000],
            "top_queries": related,
        }
        answer = ctx.complete(prompt.render(brief), temperature=0.3, max_tokens=300)
        fields = parse_fields(answer.text, ("TITLE", "META", "KEYWORDS"))
        title, meta = fit(fields["TITLE"], TITLE_LIMIT), fit(fields["META"], META_LIMIT)
        keywords: list[str] = []
        for candidate in split_list(fields["KEYWORDS"]):  # de-duplicate, ignoring case
            if candidate.lower() not in {k.lower() for k in keywords}:
                keywords.append(candidate)
        keywords = keywords[:6]
        output = {
            "title": title,
            "meta_description": meta,
            "keywords": keywords,
            "keyword_in_title": keyword in title.lower(),
            "top_queries": [r.get("query") for r in related],
        }
        return AgentOutput(
            output=output,
            draft=DraftOutput(
                title=title,
                content=f"TITLE: {title}\nMETA: {meta}\nKEYWORDS: {', '.join(keywords)}",
                metadata={"kind": "seo", "output": output},
                primary_keyword=params.primary_keyword,
            ),
            metrics=(Metric(name="search_queries_used", value=len(related), unit="queries"),),
        )


def check_edit(content: str) -> str:
    """A reviewer's edit of the SEO fields: a ``TITLE:`` of at most 60 characters and a
    ``META:`` of at most 160 (what Google shows). Returns the title."""
    fields = edited_fields(content, ("TITLE", "META", "KEYWORDS"))
    check_lengths("title", [fields["TITLE"].strip()], TITLE_LIMIT)
    check_lengths("meta description", [fields["META"].strip()], META_LIMIT)
    return fields["TITLE"].strip()


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    rng = random.Random(seed)
    keyword = str(brief.get("primary_keyword", "marketing"))
    queries = [str(q.get("query")) for q in brief.get("top_queries", []) if q.get("query")]
    title = rng.choice(
        [
            f"{title_case(keyword)}: What Works in {rng.choice(['Practice', '2026', 'Real Life'])}",
            f"{title_case(keyword)} Made Simple",
            f"The Practical Guide to {title_case(keyword)}",
        ]
    )
    meta = (
        f"Learn how {brief.get('audience', 'teams')} use {keyword} to grow, with clear "
        f"steps, examples and mistakes to avoid."
    )
    extra = queries[:4] or [f"{keyword} tips", f"{keyword} examples", f"best {keyword}"]
    return f"TITLE: {title}\nMETA: {meta}\nKEYWORDS: {', '.join([keyword, *extra])}\n"


SPEC = AgentSpec(
    intent="seo.optimize",
    agent="seo",
    params_model=SeoParams,
    factory=SeoAgent,
    description="SEO title, meta description and keywords for a draft (uses Search Console)",
    prompt_name="seo.optimize",
    prompts=PROMPTS,
    mock_writers={"seo": mock_writer},
    check_edit=check_edit,
)
