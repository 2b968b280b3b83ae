"""``eval.judge_draft``: an LLM-as-judge score (1-5) for a draft, used by experiments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from ..errors import AgentError
from ..models import AgentParams, Metric
from .base import AgentContext, AgentOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import parse_fields

__all__ = ["PROMPTS", "SPEC", "JudgeAgent", "JudgeParams", "mock_writer"]


class JudgeParams(AgentParams):
    draft: str = Field(min_length=1, max_length=60_000, description="The draft to score")
    primary_keyword: str = Field(min_length=1, max_length=80)
    audience: str = Field(default="marketing teams", min_length=1, max_length=200)


PROMPTS = (
    PromptTemplate(
        name="eval.judge",
        version="v1",
        task="judge",
        system="You are a strict content editor. Answer only with the labelled lines asked for.",
        instructions=(
            "Score the draft in the brief from 1 (unusable) to 5 (publish as is) for {audience}: "
            "relevance to '{primary_keyword}', clarity, structure, and no invented facts.\n"
            "Answer exactly as:\nSCORE: <1-5>\nREASON: <one sentence>"
        ),
    ),
)


class JudgeAgent:
    name = "eval"

    def run(self, params: JudgeParams, ctx: AgentContext) -> AgentOutput:
        prompt = ctx.prompt("eval.judge")
        answer = ctx.complete(
            prompt.render(params.model_dump(mode="json")), temperature=0.0, max_tokens=120
        )
        fields = parse_fields(answer.text, ("SCORE",), multiline=("REASON",))
        match = re.search(r"[1-5]", fields["SCORE"])
        if match is None:
            raise AgentError(f"the judge's SCORE is not 1-5: {fields['SCORE'][:40]!r}")
        score = int(match.group())
        return AgentOutput(
            output={"score": score, "reason": fields.get("REASON", "").strip()},
            metrics=(Metric(name="judge_score", value=score, unit="points"),),
        )


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    draft = str(brief.get("draft", ""))
    keyword = str(brief.get("primary_keyword", "")).lower()
    has_keyword = keyword in draft.lower()
    words = len(draft.split())
    score = 2 + has_keyword + (words > 150) + (draft.count("## ") > 1)
    found = "present" if has_keyword else "missing"
    return f"SCORE: {score}\nREASON: keyword {found}, {words} words\n"


SPEC = AgentSpec(
    intent="eval.judge_draft",
    agent="eval",
    params_model=JudgeParams,
    factory=JudgeAgent,
    description="LLM-as-judge score (1-5) of a draft, for experiments",
    prompt_name="eval.judge",
    prompts=PROMPTS,
    mock_writers={"judge": mock_writer},
)
